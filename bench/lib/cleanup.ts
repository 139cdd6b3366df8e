/**
 * Everything a benchmark starts registers how to stop it here; the runner calls cleanupAll() at
 * the end, on failure, on SIGINT/SIGTERM/SIGHUP, and when the benchmark's time bound is exceeded.
 */
import type { ChildProcess } from "node:child_process";

type Cleanup = () => Promise<void> | void;

const cleanups = new Set<Cleanup>();
/** Children spawned by the benchmarks themselves, killed synchronously if the process exits anyway. */
const children = new Set<ChildProcess>();

/** Registers a cleanup; call the returned function once the resource was released normally. */
export function deferCleanup(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  return () => void cleanups.delete(cleanup);
}

export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once("exit", () => children.delete(child));
}

/** Runs every registered cleanup (newest first), each bounded in time; never throws. */
export async function cleanupAll(timeoutMs = 20_000): Promise<void> {
  const pending = [...cleanups].reverse();
  cleanups.clear();
  await Promise.all(
    pending.map(async (cleanup) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(cleanup),
          new Promise((resolve) => {
            timer = setTimeout(resolve, timeoutMs);
          }),
        ]);
      } catch (error) {
        console.error(`cleanup failed: ${String(error)}`);
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  killChildren();
}

function killChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  children.clear();
}

let installed = false;
let stopping = false;

/** True once a signal started the shutdown: failures of work cut short are expected then. */
export function isStopping(): boolean {
  return stopping;
}

/**
 * On a signal: stop everything, then exit with 128 + signal number. Repeated signals (a terminal's
 * Ctrl-C reaches both bench/run-all.ts and this process, which run-all then forwards) are ignored
 * while the cleanup runs, so it is not cut short.
 */
export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  const codes: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
  for (const signal of Object.keys(codes) as NodeJS.Signals[]) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      console.error(`\n${signal}: stopping everything this benchmark started...`);
      cleanupAll(10_000).finally(() => process.exit(codes[signal]));
    });
  }
  process.once("exit", killChildren);
}
