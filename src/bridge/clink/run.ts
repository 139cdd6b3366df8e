/**
 * Runs one CLI to completion, and never leaves anything of it behind. The CLI starts detached,
 * as the leader of its own process group, so the whole tree it starts (shells, language
 * servers, sub-agents) can be signalled at once: on timeout, on cancellation, on too much
 * output, and after the CLI exits (whatever it left running is stray by then).
 */
import { spawn } from "node:child_process";

/** As the original: at most this much of each stream is read, and the CLI ends when it writes more. */
export const MAX_STREAM_BYTES = 10 * 1024 * 1024;

/** After SIGTERM, this long to exit before SIGKILL. */
const TERMINATE_GRACE_MS = 3_000;

export interface RunRequest {
  command: string;
  args: string[];
  /** Written to stdin, which is then closed. */
  input: string;
  cwd: string;
  timeoutMs: number;
  signal: AbortSignal;
}

export type RunOutcome =
  | { kind: "exited"; code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
  | { kind: "missing"; detail: string }
  | { kind: "timeout" }
  | { kind: "cancelled" }
  | { kind: "too_large"; stream: "stdout" | "stderr" };

export function runCli(request: RunRequest): Promise<RunOutcome> {
  return new Promise((resolve) => {
    if (request.signal.aborted) return resolve({ kind: "cancelled" });
    const child = spawn(request.command, request.args, {
      cwd: request.cwd,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    /** Why the bridge ended the CLI, when it did. */
    let ended: Exclude<RunOutcome, { kind: "exited" | "missing" }> | undefined;
    let forceTimer: NodeJS.Timeout | undefined;

    const signalGroup = (signal: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // ESRCH: nothing left in the group.
      }
    };
    const end = (reason: NonNullable<typeof ended>): void => {
      if (ended) return;
      ended = reason;
      signalGroup("SIGTERM");
      forceTimer = setTimeout(() => signalGroup("SIGKILL"), TERMINATE_GRACE_MS);
    };

    const streams = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const sizes = { stdout: 0, stderr: 0 };
    for (const name of ["stdout", "stderr"] as const) {
      child[name].on("data", (chunk: Buffer) => {
        if (ended) return;
        sizes[name] += chunk.length;
        if (sizes[name] > MAX_STREAM_BYTES) return end({ kind: "too_large", stream: name });
        streams[name].push(chunk);
      });
    }

    const timer = setTimeout(() => end({ kind: "timeout" }), request.timeoutMs);
    const onAbort = (): void => end({ kind: "cancelled" });
    request.signal.addEventListener("abort", onAbort, { once: true });

    // A CLI that exits without reading its input closes the pipe: not an error of the run.
    child.stdin.on("error", () => undefined);
    child.stdin.end(request.input);

    // The leader is gone: end what it left in its group, so the streams it held close too.
    child.once("exit", () => signalGroup("SIGKILL"));

    const settle = (outcome: RunOutcome): void => {
      clearTimeout(timer);
      clearTimeout(forceTimer);
      request.signal.removeEventListener("abort", onAbort);
      resolve(outcome);
    };
    child.once("error", (error: NodeJS.ErrnoException) => {
      // Spawning failed (no such command, not executable): there is no process to wait for.
      if (child.pid === undefined) settle({ kind: "missing", detail: error.code ?? error.message });
    });
    child.once("close", (code, signal) => {
      if (ended) return settle(ended);
      settle({
        kind: "exited",
        code,
        signal,
        stdout: Buffer.concat(streams.stdout).toString("utf8"),
        stderr: Buffer.concat(streams.stderr).toString("utf8"),
      });
    });
  });
}
