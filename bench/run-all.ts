/**
 * Runs every benchmark, one after another (each alone on the machine), then writes the combined
 * table to bench/results/README.md (bench/results/quick/README.md with --quick).
 *
 *   node bench/run-all.ts [--quick] [--strict] [--only name,name]
 *
 * Exit code: 1 if a benchmark crashed (or exceeded its time bound); 2 with --strict when a target
 * is missed in a full run; 0 otherwise. A missed target never fails a quick run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { tmpdir } from "node:os";
import { resultsDir, type BenchResult } from "./lib/results.ts";
import { buildSnapshot, snapshotEnvName, type WorkerKind } from "./lib/snapshot.ts";
import { HEADER, markdownTable, rowCells, formatNumber } from "./lib/table.ts";

/** Quick ones first, the longest last. */
export const BENCHMARKS = [
  "schema-budget",
  "cost",
  "startup",
  "caches",
  "mcp-overhead",
  "catalog",
  "engine-split",
  "consensus",
  "thread-growth",
  "breaker",
  "concurrency",
  "agents",
  "protocol-eras",
  "upload",
  "bridge",
];
/**
 * The last resort: a benchmark's own watchdog (its `budgetSeconds`, up to 900 s in full runs and
 * 300 s in quick ones) stops it first, so this is the longest of those plus a minute to stop.
 */
const HARD_LIMIT_S = { full: 960, quick: 360 };

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    strict: { type: "boolean", default: false },
    only: { type: "string" },
  },
});
const quick = values.quick === true;
const only = values.only ? values.only.split(",").map((name) => name.trim()) : BENCHMARKS;
const unknown = only.filter((name) => !BENCHMARKS.includes(name));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; known: ${BENCHMARKS.join(", ")}`);
  process.exit(1);
}
const here = import.meta.dirname;
const runStarted = Date.now();

// Freeze the code under test once for all benchmarks (see lib/snapshot.ts).
const snapshotDir = mkdtempSync(join(tmpdir(), "zen-bench-snapshots-"));
const childEnv: NodeJS.ProcessEnv = { ...process.env };
if (process.env["BENCH_LIVE"] !== "1") {
  for (const kind of ["project", "baseline", "harness", "agents", "sdk", "cost"] as WorkerKind[]) {
    const started = performance.now();
    childEnv[snapshotEnvName(kind)] = buildSnapshot(kind, snapshotDir);
    console.error(`[run-all] built the ${kind} snapshot in ${Math.round(performance.now() - started)} ms`);
  }
}
process.once("exit", () => rmSync(snapshotDir, { recursive: true, force: true }));

let current: ChildProcess | undefined;
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    interrupted = true;
    // The benchmark stops what it started on its own signal handler.
    if (current && current.exitCode === null) current.kill(signal);
  });
}

interface Outcome {
  name: string;
  code: number;
  seconds: number;
}

function runOne(name: string): Promise<Outcome> {
  const started = performance.now();
  return new Promise((done) => {
    const args = [join(here, `${name}.ts`), ...(quick ? ["--quick"] : []), ...(values.strict ? ["--strict"] : [])];
    const child = spawn(process.execPath, args, { stdio: "inherit", env: childEnv });
    current = child;
    const limit = (quick ? HARD_LIMIT_S.quick : HARD_LIMIT_S.full) * 1000;
    const killer = setTimeout(() => {
      console.error(`[run-all] ${name} exceeded ${limit / 1000} s: stopping it`);
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 15_000).unref();
    }, limit);
    child.once("exit", (code, signal) => {
      clearTimeout(killer);
      current = undefined;
      done({ name, code: code ?? (signal ? 1 : 0), seconds: (performance.now() - started) / 1000 });
    });
  });
}

const outcomes: Outcome[] = [];
for (const name of only) {
  if (interrupted) break;
  console.error(`\n[run-all] ${name}${quick ? " --quick" : ""}`);
  outcomes.push(await runOne(name));
}

if (interrupted) {
  console.error("[run-all] interrupted: bench/results/README.md left as it was");
  process.exit(130);
}

// The combined table, from the JSON each benchmark wrote during this run.
const dir = resultsDir(quick);
const results: BenchResult[] = [];
const missing: string[] = [];
for (const outcome of outcomes) {
  const path = join(dir, `${outcome.name}.json`);
  const result = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as BenchResult) : undefined;
  if (result && Date.parse(result.date) >= runStarted - 1000 && outcome.code !== 1) results.push(result);
  else missing.push(outcome.name);
}

const totalSeconds = (Date.now() - runStarted) / 1000;
const machine = results[0]?.machine;
const targets = results.flatMap((r) => r.targets.map((t) => ({ bench: r.name, ...t })));
const met = targets.filter((t) => t.pass).length;
const lines: string[] = [
  `# Benchmark results${quick ? " (quick run)" : ""}`,
  "",
  `Generated by \`npm run ${quick ? "bench:quick" : "bench"}\` (bench/run-all.ts) on ${new Date(runStarted).toISOString().slice(0, 16).replace("T", " ")} UTC in ${Math.round(totalSeconds)} s.`,
  machine
    ? `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}, wrangler ${machine.wrangler}. ` +
      `1-minute load average at the start of each benchmark: ${results.map((r) => r.machine.loadAverageStart).join(", ")} (above ${machine.cores}, the machine was busy and the numbers are noisier).`
    : "",
  quick ? "\nQuick run: a few iterations each, to check that every benchmark still runs; its figures are not the published ones.\n" : "",
  `Targets met: ${met} of ${targets.length}.${missing.length ? ` Did not complete: ${missing.join(", ")}.` : ""}`,
  "",
  markdownTable(
    ["benchmark", "target", "value", "result"],
    targets.map((t) => [t.bench, `${t.name} ${t.target}`, formatNumber(t.value, t.unit === "x" ? "x" : t.unit), t.pass ? "pass" : quick ? "MISS (quick run)" : "**MISS**"]),
  ),
  "",
  "## All measurements",
  "",
  "Latencies are client-side (loopback HTTP through `wrangler dev`) unless the metric says \"in workerd\". Ratios compare with the baseline named in the row, measured in the same run, interleaved.",
  "",
  markdownTable(
    ["benchmark", ...HEADER],
    results.flatMap((r) => r.rows.map((row) => [r.name, ...rowCells(row, quick)])),
  ),
  "",
  "## Notes",
  "",
  ...results.flatMap((r) => [`**${r.name}** (${r.durationSeconds} s): ${r.description}`, "", ...r.notes.map((n) => `- ${n}`), ...(r.notes.length ? [""] : [])]),
  `Reproduce: \`npm run bench\` (all), \`npm run bench:quick\`, or one alone: \`node bench/<name>.ts [--quick]\`. See bench/README.md.`,
  "",
];
mkdirSync(dir, { recursive: true });
const readme = join(dir, "README.md");
writeFileSync(readme, lines.filter((line, i, all) => !(line === "" && all[i - 1] === "")).join("\n"));

console.log(`\n[run-all] ${outcomes.map((o) => `${o.name}: ${o.code === 0 ? "ok" : o.code === 2 ? "target missed" : "FAILED"} (${Math.round(o.seconds)} s)`).join(", ")}`);
console.log(`[run-all] targets met: ${met}/${targets.length}; total ${Math.round(totalSeconds)} s; wrote ${relative(resolve(here, ".."), readme)}`);
const crashed = outcomes.filter((o) => o.code !== 0 && o.code !== 2);
if (interrupted) process.exit(130);
if (crashed.length > 0 || missing.length > 0) {
  console.error(`[run-all] failed: ${[...new Set([...crashed.map((o) => o.name), ...missing])].join(", ")}`);
  process.exit(1);
}
process.exit(values.strict && !quick && outcomes.some((o) => o.code === 2) ? 2 : 0);
