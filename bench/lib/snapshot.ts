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
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parse } from "smol-toml";
import { deferCleanup } from "./cleanup.ts";
import { AGENTS_CONFIG, BASELINE_CONFIG, HARNESS_CONFIG, PROJECT_CONFIG, ROOT } from "./paths.ts";

export type WorkerKind = "project" | "baseline" | "harness" | "agents";

export const SOURCE_CONFIGS: Record<WorkerKind, string> = {
  project: PROJECT_CONFIG,
  baseline: BASELINE_CONFIG,
  harness: HARNESS_CONFIG,
  agents: AGENTS_CONFIG,
};

export function snapshotEnvName(kind: WorkerKind): string {
  return `BENCH_SNAPSHOT_${kind.toUpperCase()}`;
}

function boundClasses(toml: string): Set<string> {
  return new Set([...toml.matchAll(/^\s*class_name\s*=\s*"([^"]+)"/gm)].map((match) => match[1] as string));
}

/** The harness must bind every Durable Object class the project binds (the project's code uses them). */
export function checkHarnessBindings(): void {
  const project = boundClasses(readFileSync(PROJECT_CONFIG, "utf8"));
  const harness = boundClasses(readFileSync(HARNESS_CONFIG, "utf8"));
  const missing = [...project].filter((name) => !harness.has(name));
  if (missing.length > 0) {
    throw new Error(
      `bench/harness/wrangler.toml lacks the Durable Object binding(s) for ${missing.join(", ")}: copy them (and the migration) from wrangler.toml.`,
    );
  }
}

/** What the Agent variant must share with the project for the comparison to be like with like. */
const MIRRORED_KEYS = ["compatibility_date", "compatibility_flags", "durable_objects", "migrations", "kv_namespaces", "vars"];

/** bench/agents/wrangler.toml must equal the project's top level in everything but its name and main. */
export function checkAgentsMirror(): void {
  const project = parse(readFileSync(PROJECT_CONFIG, "utf8"));
  const agents = parse(readFileSync(AGENTS_CONFIG, "utf8"));
  const differing = MIRRORED_KEYS.filter((key) => !isDeepStrictEqual(project[key], agents[key]));
  if (differing.length > 0) {
    throw new Error(`bench/agents/wrangler.toml differs from wrangler.toml in ${differing.join(", ")}: copy them from wrangler.toml's top level.`);
  }
}

function checkMirror(kind: WorkerKind): void {
  if (kind === "harness") checkHarnessBindings();
  if (kind === "agents") checkAgentsMirror();
}

/** Bundles `config` into a new temp dir and writes a wrangler.toml serving that bundle; returns its path. */
export function buildSnapshot(kind: WorkerKind, parent = tmpdir()): string {
  checkMirror(kind);
  return bundleConfig(SOURCE_CONFIGS[kind], kind, parent);
}

function bundleConfig(sourceConfig: string, label: string, parent: string): string {
  const dir = mkdtempSync(join(parent, `zen-bench-${label}-`));
  const run = spawnSync(
    process.execPath,
    [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--config", sourceConfig, "--outdir", join(dir, "bundle")],
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
  return config;
}

type Lock = { packages: Record<string, { version?: string; dev?: boolean }> };

/**
 * The packages an old lockfile installs for running (not dev-only) whose version today's lockfile
 * does not install at the same place: with none, today's node_modules bundle the old code as it was.
 */
function changedRuntimePackages(oldLock: string, newLock: string): string[] {
  const before = (JSON.parse(oldLock) as Lock).packages;
  const now = (JSON.parse(newLock) as Lock).packages;
  return Object.entries(before)
    .filter(([path, entry]) => path !== "" && !entry.dev && now[path]?.version !== entry.version)
    .map(([path, entry]) => `${path.replace(/^node_modules\//, "")} ${entry.version} -> ${now[path]?.version ?? "absent"}`);
}

/**
 * The project's worker as it was at `commit` of this repository: its src/, wrangler.toml and
 * package.json taken with `git archive` into a temp dir beside today's node_modules (the packages
 * it runs with must not have changed since: checked against the two lockfiles), bundled like the
 * other snapshots. Returns the snapshot's wrangler.toml; the sources are deleted once bundled.
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
  const changed = changedRuntimePackages(git(["show", `${commit}:package-lock.json`]).toString(), readFileSync(join(ROOT, "package-lock.json"), "utf8"));
  if (changed.length > 0) {
    throw new Error(`Packages the code of ${commit} runs with changed since (${changed.join(", ")}): it cannot be bundled with today's node_modules.`);
  }
  const sources = mkdtempSync(join(parent, `zen-bench-source-${commit}-`));
  try {
    const archive = git(["archive", "--format=tar", commit, "src", "wrangler.toml", "package.json"]);
    const tar = spawnSync("tar", ["-x", "-C", sources], { input: archive });
    if (tar.status !== 0) throw new Error(`unpacking ${commit}: ${tar.stderr.toString()}`);
    symlinkSync(join(ROOT, "node_modules"), join(sources, "node_modules"), "dir");
    return bundleConfig(join(sources, "wrangler.toml"), commit, parent);
  } finally {
    rmSync(sources, { recursive: true, force: true });
  }
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
