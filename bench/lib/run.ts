/**
 * The frame of every benchmark script: `--quick`, a hard time bound, cleanup of everything started
 * (also on failure and signals), the table on stdout, and bench/results/<name>.json.
 *
 * Exit codes: 0 when the benchmark ran (targets missed or not), 1 when it crashed or exceeded its
 * time bound, 2 with `--strict` when a target is missed in a full run.
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { cleanupAll, installSignalHandlers, isStopping } from "./cleanup.ts";
import { machineInfo, writeResult, type BenchResult, type Row } from "./results.ts";
import { HEADER, rowCells, textTable } from "./table.ts";
import type { TargetCheck } from "./targets.ts";

export interface BenchContext {
  quick: boolean;
  /** A progress line on stderr, with seconds since the start. */
  log(message: string): void;
  /** Findings and caveats, kept in the JSON and the combined README. */
  note(message: string): void;
  /** Raw samples and details for the JSON. */
  data: Record<string, unknown>;
  /**
   * Iteration indices 0..count-1, stopping early once `ms` have passed since the first one (noted
   * with `label`). Every loop of a benchmark goes through this: bounded in count and in time.
   */
  bounded(count: number, ms: number, label: string): Generator<number>;
  /** `full` or `quick` by mode. */
  pick<T>(full: T, quick: T): T;
  /** The benchmark's own command-line options (declared in its definition), as strings. */
  options: Record<string, string | undefined>;
}

export interface BenchOutput {
  rows: Row[];
  /** Targets not attached to a row. */
  targets?: TargetCheck[];
}

export interface BenchDefinition {
  name: string;
  title: string;
  description: string;
  /** Hard bound on the whole run, cleanup included: exceeded means a crash. */
  budgetSeconds: { full: number; quick: number };
  /** Extra string options for investigating, e.g. `--levels 64,256`; results of such runs are still written. */
  options?: string[];
  /**
   * A missed target exits 2 in every run, quick or not, --strict or not: for targets on exact
   * counts, where a miss is never noise (bench/cost.ts).
   */
  failOnMissedTarget?: boolean;
  run(ctx: BenchContext): Promise<BenchOutput>;
}

export function cliArgs(
  argv = process.argv.slice(2),
  extra: string[] = [],
): { quick: boolean; strict: boolean; options: Record<string, string | undefined> } {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      strict: { type: "boolean", default: false },
      ...Object.fromEntries(extra.map((name) => [name, { type: "string" as const }])),
    },
  });
  const options = Object.fromEntries(extra.map((name) => [name, (values as Record<string, unknown>)[name] as string | undefined]));
  return { quick: values.quick === true, strict: values.strict === true, options };
}

export async function runBenchmark(definition: BenchDefinition): Promise<never> {
  const { quick, strict, options } = cliArgs(process.argv.slice(2), definition.options ?? []);
  installSignalHandlers();
  const started = performance.now();
  const date = new Date().toISOString();
  const machine = machineInfo();
  const elapsed = () => ((performance.now() - started) / 1000).toFixed(1);
  const notes: string[] = [];
  const ctx: BenchContext = {
    quick,
    log: (message) => console.error(`[${definition.name} ${elapsed()}s] ${message}`),
    note: (message) => {
      notes.push(message);
      console.error(`[${definition.name} ${elapsed()}s] note: ${message}`);
    },
    data: {},
    *bounded(count, ms, label) {
      const until = performance.now() + ms;
      for (let i = 0; i < count; i++) {
        if (i > 0 && performance.now() > until) {
          ctx.note(`${label}: stopped after ${i} of ${count} iterations (time bound ${Math.round(ms / 1000)} s)`);
          return;
        }
        yield i;
      }
    },
    pick: (full, quickValue) => (quick ? quickValue : full),
    options,
  };

  const budgetMs = (quick ? definition.budgetSeconds.quick : definition.budgetSeconds.full) * 1000;
  const watchdog = setTimeout(() => {
    console.error(`[${definition.name}] exceeded its time bound of ${budgetMs / 1000} s: stopping.`);
    cleanupAll(10_000).finally(() => process.exit(1));
  }, budgetMs);
  watchdog.unref();

  ctx.log(`${quick ? "quick" : "full"} run on ${machine.cpu}, ${machine.cores} cores, load ${machine.loadAverageStart}`);
  let code = 0;
  try {
    const output = await definition.run(ctx);
    const targets = [...output.rows.flatMap((row) => (row.target ? [row.target] : [])), ...(output.targets ?? [])];
    const result: BenchResult = {
      name: definition.name,
      title: definition.title,
      description: definition.description,
      quick,
      date,
      durationSeconds: Math.round((performance.now() - started) / 100) / 10,
      machine: { ...machine, loadAverageEnd: Math.round((loadavg()[0] ?? 0) * 100) / 100 },
      rows: output.rows,
      targets,
      notes,
      data: ctx.data,
    };
    const path = writeResult(result);
    console.log(`\n## ${definition.title}${quick ? " (quick run: few iterations, targets informative only)" : ""}\n`);
    console.log(textTable(HEADER, output.rows.map((row) => rowCells(row, quick))));
    const extra = (output.targets ?? []).map((t) => `target ${t.name} ${t.target}: ${t.value} ${t.unit} -> ${t.pass ? "pass" : "MISS"}`);
    if (extra.length > 0) console.log(`\n${extra.join("\n")}`);
    if (notes.length > 0) console.log(`\nnotes:\n${notes.map((n) => `- ${n}`).join("\n")}`);
    const missed = targets.filter((t) => !t.pass);
    console.log(`\n${targets.length - missed.length}/${targets.length} targets met; wrote ${path} (${result.durationSeconds} s)`);
    if (missed.length > 0 && ((strict && !quick) || definition.failOnMissedTarget)) code = 2;
  } catch (error) {
    if (isStopping()) await new Promise(() => undefined); // the signal handler exits once cleanup is done
    console.error(`[${definition.name}] FAILED: ${(error as Error)?.stack ?? String(error)}`);
    code = 1;
  } finally {
    await cleanupAll();
    clearTimeout(watchdog);
  }
  process.exit(code);
}
