/**
 * One round of a concurrency benchmark: every client sends its call at the same moment.
 */
import { cpuDelta, cpuSnapshot, type ProcessGroup } from "./cpu.ts";
import type { Client, TimedCall } from "./mcp.ts";

export interface AtOnceRound {
  n: number;
  /** First call sent to last answer. */
  wallMs: number;
  errors: number;
  errorSamples: string[];
  latencyMs: number[];
  firstProgressMs: number[];
  /** CPU seconds each process used during the round (Linux only). */
  cpuSeconds: Record<string, number>;
}

/** Each client makes `call` at once; the round's wall time, errors, latencies and the CPU of `processes`. */
export async function callAtOnce(clients: Client[], call: (client: Client) => Promise<TimedCall>, processes: ProcessGroup[]): Promise<AtOnceRound> {
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
    cpuSeconds,
  };
}
