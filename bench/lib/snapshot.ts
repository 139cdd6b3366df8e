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
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deferCleanup } from "./cleanup.ts";
import { BASELINE_CONFIG, HARNESS_CONFIG, PROJECT_CONFIG, ROOT } from "./paths.ts";

export type WorkerKind = "project" | "baseline" | "harness";

export const SOURCE_CONFIGS: Record<WorkerKind, string> = { project: PROJECT_CONFIG, baseline: BASELINE_CONFIG, harness: HARNESS_CONFIG };

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

/** Bundles `config` into a new temp dir and writes a wrangler.toml serving that bundle; returns its path. */
export function buildSnapshot(kind: WorkerKind, parent = tmpdir()): string {
  if (kind === "harness") checkHarnessBindings();
  const dir = mkdtempSync(join(parent, `zen-bench-${kind}-`));
  const run = spawnSync(
    process.execPath,
    [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--config", SOURCE_CONFIGS[kind], "--outdir", join(dir, "bundle")],
    { cwd: ROOT, encoding: "utf8", timeout: 120_000, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" } },
  );
  if (run.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`building the ${kind} snapshot failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  }
  const main = readdirSync(join(dir, "bundle")).find((name) => /\.m?js$/.test(name));
  if (!main) throw new Error(`no bundle for ${kind} in ${dir}`);
  const toml = readFileSync(SOURCE_CONFIGS[kind], "utf8");
  if (!/^main\s*=.*$/m.test(toml)) throw new Error(`${SOURCE_CONFIGS[kind]} has no top-level main`);
  const config = join(dir, "wrangler.toml");
  writeFileSync(config, toml.replace(/^main\s*=.*$/m, `main = "bundle/${main}"\nno_bundle = true`));
  return config;
}

const built = new Map<WorkerKind, string>();

/** The config to start a worker of this kind with: a frozen snapshot unless BENCH_LIVE=1. */
export function workerConfig(kind: WorkerKind): string {
  if (kind === "harness") checkHarnessBindings();
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
