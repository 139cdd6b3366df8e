/** Result rows, the machine they were measured on, and writing bench/results/<name>.json. */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, freemem, loadavg, platform, release, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { summarize } from "./stats.ts";
import type { TargetCheck } from "./targets.ts";

export const RESULTS_DIR = resolve(import.meta.dirname, "../results");
/** Quick runs (CI smoke) go here, so they never overwrite the committed full results. */
export const QUICK_RESULTS_DIR = join(RESULTS_DIR, "quick");

export function resultsDir(quick: boolean): string {
  return quick ? QUICK_RESULTS_DIR : RESULTS_DIR;
}

/** One line of a benchmark's table: order statistics of samples, or a single value. */
export interface Row {
  metric: string;
  unit: string;
  n?: number;
  min?: number;
  median?: number;
  p99?: number;
  /** A single measured value (sizes, counts, ratios computed from several rows). */
  value?: number;
  /** This row against its baseline (see `baseline`), e.g. median project / median baseline. */
  ratio?: number;
  baseline?: string;
  target?: TargetCheck;
}

/** A row of samples' order statistics (n, min, median, p99). */
export function sampleRow(metric: string, unit: string, values: readonly number[], extra: Partial<Row> = {}): Row {
  const s = summarize(values);
  return { metric, unit, n: s.n, min: s.min, median: s.median, p99: s.p99, ...extra };
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  freeMemoryGiB: number;
  node: string;
  platform: string;
  wrangler: string;
  /** 1-minute load average when the benchmark started and ended: above the core count, numbers are noisy. */
  loadAverageStart: number;
  loadAverageEnd?: number;
  /** The commit measured, and whether the work tree had changes to tracked files besides bench/results (then it is not quite that commit). */
  commit: string;
  treeClean: boolean;
}

export interface BenchResult {
  name: string;
  title: string;
  /** What is measured and how, in a sentence or two. */
  description: string;
  quick: boolean;
  date: string;
  durationSeconds: number;
  machine: Machine;
  rows: Row[];
  /** Every target of this benchmark: {name, target, value, pass}. */
  targets: TargetCheck[];
  /** Findings and caveats (time bounds hit, harness limits, why a target is missed). */
  notes: string[];
  /** Raw samples and anything else worth keeping. */
  data: Record<string, unknown>;
}

function git(...args: string[]): string {
  try {
    return execFileSync("git", args, { cwd: resolve(import.meta.dirname, "../.."), encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

function wranglerVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../node_modules/wrangler/package.json"), "utf8")) as { version: string };
    return pkg.version;
  } catch {
    return "unknown";
  }
}

export function machineInfo(): Machine {
  const gib = (bytes: number) => Math.round((bytes / 1024 ** 3) * 10) / 10;
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores: cpus().length,
    memoryGiB: gib(totalmem()),
    freeMemoryGiB: gib(freemem()),
    node: process.version,
    platform: `${platform()} ${release()}`,
    wrangler: wranglerVersion(),
    loadAverageStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    commit: git("rev-parse", "--short", "HEAD"),
    // The results a full run writes as it goes are not the code measured.
    treeClean: git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench/results") === "",
  };
}

/** Writes the result as JSON; returns the path. */
export function writeResult(result: BenchResult): string {
  const dir = resultsDir(result.quick);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${result.name}.json`);
  writeFileSync(path, `${JSON.stringify(result, (_key, value) => (typeof value === "number" && !Number.isFinite(value) ? null : value), 2)}\n`);
  return path;
}
