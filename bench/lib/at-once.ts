/**
 * One round of a concurrency benchmark: every client sends its call at the same moment.
 */
import { cpuDelta, cpuSnapshot, type ProcessGroup } from "./cpu.ts";
import type { AnyClient, TimedCall } from "./mcp.ts";
import { sampleRow, type Row } from "./results.ts";
import { median, summarize } from "./stats.ts";

export interface AtOnceRound {
  n: number;
  /** First call sent to last answer. */
  wallMs: number;
  errors: number;
  errorSamples: string[];
  latencyMs: number[];
  /** When each client heard its first progress notification, from its call. */
  firstProgressMs: number[];
  /** When the server sent it (its timestamp in `_meta`), from the same call start: the client's own load left out. */
  firstProgressServerMs: number[];
  /** CPU seconds each process used during the round (Linux only). */
  cpuSeconds: Record<string, number>;
}

/** Each client makes `call` at once; the round's wall time, errors, latencies and the CPU of `processes`. */
export async function callAtOnce<C extends AnyClient>(clients: C[], call: (client: C) => Promise<TimedCall>, processes: ProcessGroup[]): Promise<AtOnceRound> {
  const cpuBefore = cpuSnapshot(processes);
  const start = performance.now();
  const calls = await Promise.all(clients.map(call));
  const wallMs = performance.now() - start;
  const cpuSeconds = cpuDelta(cpuBefore, cpuSnapshot(processes));
  const failed = calls.filter((c) => c.error);
  return {
    n: clients.length,
    wallMs,
    errors: failed.length,
    errorSamples: [...new Set(failed.map((c) => c.error ?? ""))].slice(0, 3),
    latencyMs: calls.map((c) => c.ms),
    firstProgressMs: calls.flatMap((c) => (c.firstProgressMs !== undefined ? [c.firstProgressMs] : [])),
    firstProgressServerMs: calls.flatMap((c) => (c.firstProgressServerMs !== undefined ? [c.firstProgressServerMs] : [])),
    cpuSeconds,
  };
}

/** Failed calls over rounds. */
export const errorsOf = (rounds: readonly AtOnceRound[]): number => rounds.reduce((sum, r) => sum + r.errors, 0);

/** Rows of a side's rounds: wall time per round (with the errors in the metric), first progress per call. */
export function wallRow(label: string, rounds: readonly AtOnceRound[], extra: Partial<Row> = {}): Row {
  return sampleRow(`${label} wall (${errorsOf(rounds)} errors)`, "ms", rounds.map((r) => r.wallMs), extra);
}

export function firstProgressRow(label: string, rounds: readonly AtOnceRound[], extra: Partial<Row> = {}): Row {
  return sampleRow(`${label} first progress (per call)`, "ms", rounds.flatMap((r) => r.firstProgressMs), extra);
}

/** The median CPU seconds per round of each process, as one row's metric. */
export function cpuRow(label: string, rounds: readonly AtOnceRound[]): Row {
  const labels = Object.keys(rounds[0]?.cpuSeconds ?? {});
  const each = labels.map((process) => `${process.replace(/ \(.*\)/, "")} ${median(rounds.map((r) => r.cpuSeconds[process] ?? 0)).toFixed(2)}`);
  return { metric: `${label} CPU s per round: ${each.join(", ")}`, unit: "" };
}

/** A round as the JSON keeps it: latencies and first progress (both clocks) summarized. */
export function roundForJson<R extends AtOnceRound>({
  latencyMs,
  firstProgressMs,
  firstProgressServerMs,
  ...rest
}: R): Omit<R, "latencyMs" | "firstProgressMs" | "firstProgressServerMs"> & Record<"latency" | "firstProgress" | "firstProgressServer", ReturnType<typeof summarize>> {
  return { ...rest, latency: summarize(latencyMs), firstProgress: summarize(firstProgressMs), firstProgressServer: summarize(firstProgressServerMs) };
}
