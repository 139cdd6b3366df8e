/**
 * The code under test, frozen for the run. `wrangler dev` watches the sources and reloads the
 * worker when a file changes, dropping in-flight requests (seen as calls that never answer when
 * someone edits src/ during a run). So each worker config is built once with
 * `wrangler deploy --dry-run` (the bundle a deploy would upload) and started from a copy of its
 * wrangler.toml whose `main` is that bundle, with `no_bundle = true`.
 *
 * bench/run-all.ts builds the snapshots once and hands them to every benchmark through
 * BENCH_SNAPSHOT_<KIND> (a wrangler.toml path); a benchmark run alone builds its own.
 * BENCH_LIVE=1 uses the sources directly (live reload), e.g. while working on a benchmark.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parse } from "smol-toml";
import { deferCleanup } from "./cleanup.ts";
import { AGENTS_CONFIG, BASELINE_CONFIG, COST_CONFIG, HARNESS_CONFIG, PROJECT_CONFIG, ROOT, SDK_HANDLER_CONFIG } from "./paths.ts";

export type WorkerKind = "project" | "baseline" | "harness" | "agents" | "sdk" | "cost";

export const SOURCE_CONFIGS: Record<WorkerKind, string> = {
  project: PROJECT_CONFIG,
  baseline: BASELINE_CONFIG,
  harness: HARNESS_CONFIG,
  agents: AGENTS_CONFIG,
  sdk: SDK_HANDLER_CONFIG,
  cost: COST_CONFIG,
};

export function snapshotEnvName(kind: WorkerKind): string {
  return `BENCH_SNAPSHOT_${kind.toUpperCase()}`;
}

function boundClasses(toml: string): Set<string> {
  return new Set([...toml.matchAll(/^\s*class_name\s*=\s*"([^"]+)"/gm)].map((match) => match[1] as string));
}

function boundBuckets(toml: string): Set<string> {
  const buckets = (parse(toml)["r2_buckets"] ?? []) as Array<{ binding: string }>;
  return new Set(buckets.map((bucket) => bucket.binding));
}

/** The harness must bind every Durable Object class and R2 bucket the project binds (the project's code uses them). */
export function checkHarnessBindings(): void {
  const projectToml = readFileSync(PROJECT_CONFIG, "utf8");
  const harnessToml = readFileSync(HARNESS_CONFIG, "utf8");
  const harness = boundClasses(harnessToml);
  const missing = [...boundClasses(projectToml)].filter((name) => !harness.has(name));
  if (missing.length > 0) {
    throw new Error(
      `bench/harness/wrangler.toml lacks the Durable Object binding(s) for ${missing.join(", ")}: copy them (and the migration) from wrangler.toml.`,
    );
  }
  const harnessBuckets = boundBuckets(harnessToml);
  const missingBuckets = [...boundBuckets(projectToml)].filter((name) => !harnessBuckets.has(name));
  if (missingBuckets.length > 0) {
    throw new Error(`bench/harness/wrangler.toml lacks the R2 binding(s) ${missingBuckets.join(", ")}: copy them from wrangler.toml.`);
  }
}

/** What a variant of the project must share with it for a comparison to be like with like. */
const MIRRORED_KEYS = ["compatibility_date", "compatibility_flags", "keep_names", "durable_objects", "migrations", "kv_namespaces", "r2_buckets", "vars"];

/** A variant's wrangler.toml must equal the project's top level in everything but its name, main and alias. */
function checkVariantMirror(kind: "agents" | "sdk" | "cost"): void {
  const project = parse(readFileSync(PROJECT_CONFIG, "utf8"));
  const variant = parse(readFileSync(SOURCE_CONFIGS[kind], "utf8"));
  const differing = MIRRORED_KEYS.filter((key) => !isDeepStrictEqual(project[key], variant[key]));
  if (differing.length > 0) {
    const file = relative(ROOT, SOURCE_CONFIGS[kind]);
    throw new Error(`${file} differs from wrangler.toml in ${differing.join(", ")}: copy them from wrangler.toml's top level.`);
  }
}

/** bench/agents/wrangler.toml must equal the project's top level in everything but its name and main. */
export function checkAgentsMirror(): void {
  checkVariantMirror("agents");
}

function checkMirror(kind: WorkerKind): void {
  if (kind === "harness") checkHarnessBindings();
  if (kind === "agents" || kind === "sdk" || kind === "cost") checkVariantMirror(kind);
}

interface Built {
  /** The snapshot's wrangler.toml. */
  config: string;
  /** Absolute paths of every source file in the bundle (esbuild's metafile). */
  inputs: string[];
}

/**
 * The sdk variant measures the SDK's handler only if wrangler's alias took: the bench's module is
 * in the bundle and nothing of the `agents` package is.
 */
function checkSdkAlias(built: Built): void {
  const shim = join(SOURCE_CONFIGS.sdk, "..", "agents-mcp-server.ts");
  const fromAgents = built.inputs.filter((input) => packageOf(input)?.name === "agents");
  if (!built.inputs.includes(shim) || fromAgents.length > 0) {
    throw new Error(`the sdk variant's bundle did not take its alias of agents/mcp/server (bench module bundled: ${built.inputs.includes(shim)}, files of agents: ${fromAgents.length})`);
  }
}

/** Bundles `config` into a new temp dir and writes a wrangler.toml serving that bundle; returns its path. */
export function buildSnapshot(kind: WorkerKind, parent = tmpdir()): string {
  checkMirror(kind);
  const built = bundleConfig(SOURCE_CONFIGS[kind], kind, parent);
  if (kind === "sdk") {
    try {
      checkSdkAlias(built);
    } catch (error) {
      rmSync(join(built.config, ".."), { recursive: true, force: true });
      throw error;
    }
  }
  return built.config;
}

function bundleConfig(sourceConfig: string, label: string, parent: string): Built {
  const dir = mkdtempSync(join(parent, `zen-bench-${label}-`));
  const metafile = join(dir, "meta.json");
  const run = spawnSync(
    process.execPath,
    [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--config", sourceConfig, "--outdir", join(dir, "bundle"), "--metafile", metafile],
    { cwd: ROOT, encoding: "utf8", timeout: 120_000, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" } },
  );
  if (run.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`building the ${label} snapshot failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  }
  const main = readdirSync(join(dir, "bundle")).find((name) => /\.m?js$/.test(name));
  if (!main) throw new Error(`no bundle for ${label} in ${dir}`);
  const toml = readFileSync(sourceConfig, "utf8");
  if (!/^main\s*=.*$/m.test(toml)) throw new Error(`${sourceConfig} has no top-level main`);
  const config = join(dir, "wrangler.toml");
  writeFileSync(config, toml.replace(/^main\s*=.*$/m, `main = "bundle/${main}"\nno_bundle = true`));
  // esbuild names inputs relative to the config's directory.
  const meta = JSON.parse(readFileSync(metafile, "utf8")) as { inputs: Record<string, unknown> };
  const inputs = Object.keys(meta.inputs).map((input) => resolve(dirname(sourceConfig), input));
  return { config, inputs };
}

/**
 * The installed package a bundled file belongs to: its lockfile key (`node_modules/a`, or
 * `node_modules/a/node_modules/b` when nested) and name; undefined for a file of no package.
 */
function packageOf(file: string): { key: string; name: string } | undefined {
  const at = file.indexOf("/node_modules/");
  if (at < 0) return undefined;
  const names = file
    .slice(at + "/node_modules/".length)
    .split("/node_modules/")
    .map((rest) => rest.split("/").slice(0, rest.startsWith("@") ? 2 : 1).join("/"));
  return { key: names.map((name) => `node_modules/${name}`).join("/"), name: names.at(-1) as string };
}

type Lock = { packages: Record<string, { version?: string }> };

/**
 * The packages in a bundle of old code whose installed version today is not the one the old
 * lockfile installed at the same place (absent there counts as changed). With none, the bundle is
 * the old code with the very packages it ran with; the rest of the lockfile (dev tools, packages
 * added since) does not matter.
 */
function changedBundledPackages(inputs: string[], oldLock: string): string[] {
  const then = (JSON.parse(oldLock) as Lock).packages;
  const changed: string[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    const pkg = packageOf(input);
    if (!pkg || seen.has(pkg.key)) continue;
    seen.add(pkg.key);
    const root = input.slice(0, input.lastIndexOf(`/node_modules/${pkg.name}/`) + `/node_modules/${pkg.name}`.length);
    const now = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
    if (then[pkg.key]?.version !== now) changed.push(`${pkg.key.replace(/^node_modules\//, "")} ${then[pkg.key]?.version ?? "absent"} -> ${now}`);
  }
  return changed;
}

/**
 * The project's worker as it was at `commit` of this repository: its src/, wrangler.toml and
 * package.json taken with `git archive` into a temp dir beside today's node_modules, bundled like
 * the other snapshots. Refused unless every package in that bundle is installed today at the
 * version the commit's lockfile had (changedBundledPackages). Returns the snapshot's
 * wrangler.toml; the sources are deleted once bundled.
 */
export function buildCommitSnapshot(commit: string, parent = tmpdir()): string {
  const git = (args: string[]) => {
    const run = spawnSync("git", ["-C", ROOT, ...args], { maxBuffer: 256 * 1024 * 1024 });
    if (run.status !== 0) {
      throw new Error(
        `git ${args.join(" ")} failed: ${run.stderr.toString().trim()}. The benchmark needs commit ${commit} of this repository ` +
          "(in a shallow clone: git fetch --unshallow).",
      );
    }
    return run.stdout;
  };
  const oldLock = git(["show", `${commit}:package-lock.json`]).toString();
  const sources = mkdtempSync(join(parent, `zen-bench-source-${commit}-`));
  try {
    const archive = git(["archive", "--format=tar", commit, "src", "wrangler.toml", "package.json"]);
    const tar = spawnSync("tar", ["-x", "-C", sources], { input: archive });
    if (tar.status !== 0) throw new Error(`unpacking ${commit}: ${tar.stderr.toString()}`);
    symlinkSync(join(ROOT, "node_modules"), join(sources, "node_modules"), "dir");
    const built = bundleConfig(join(sources, "wrangler.toml"), commit, parent);
    const changed = changedBundledPackages(built.inputs, oldLock);
    if (changed.length > 0) {
      rmSync(join(built.config, ".."), { recursive: true, force: true });
      throw new Error(`Packages the code of ${commit} bundles changed since (${changed.join(", ")}): it cannot be bundled with today's node_modules.`);
    }
    return built.config;
  } finally {
    rmSync(sources, { recursive: true, force: true });
  }
}

/** buildCommitSnapshot for a benchmark run: the snapshot is deleted when the run ends, failed or not. */
export function commitConfig(commit: string): string {
  const config = buildCommitSnapshot(commit);
  const dir = join(config, "..");
  deferCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return config;
}

const built = new Map<WorkerKind, string>();

/** The config to start a worker of this kind with: a frozen snapshot unless BENCH_LIVE=1. */
export function workerConfig(kind: WorkerKind): string {
  checkMirror(kind);
  if (process.env["BENCH_LIVE"] === "1") return SOURCE_CONFIGS[kind];
  const given = process.env[snapshotEnvName(kind)];
  if (given) return given;
  let config = built.get(kind);
  if (!config) {
    config = buildSnapshot(kind);
    const dir = join(config, "..");
    deferCleanup(() => rmSync(dir, { recursive: true, force: true }));
    built.set(kind, config);
  }
  return config;
}
