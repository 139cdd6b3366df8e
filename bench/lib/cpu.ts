/**
 * CPU time of the processes behind a benchmark (Linux /proc; elsewhere empty), to tell whether a
 * slow round was the worker, wrangler's proxy, the client or the fake upstream.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS = 100;

function stat(pid: number): { ppid: number; cpuSeconds: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name: state ppid ... utime(14) stime(15).
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(fields[1]), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS };
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
}

function allPids(): number[] {
  try {
    return readdirSync("/proc").filter((name) => /^\d+$/.test(name)).map(Number);
  } catch {
    return [];
  }
}

export interface ProcessGroup {
  label: string;
  pids: number[];
}

/**
 * The processes of a `wrangler dev` serving `port`: wrangler's Node process, the workerd running
 * wrangler's proxy worker (it owns the public port) and the workerd running the worker itself.
 */
export function wranglerProcesses(port: number): ProcessGroup[] {
  const pids = allPids();
  const cli = pids.find((pid) => {
    const args = cmdline(pid);
    return args.some((arg) => arg.endsWith("wrangler-dist/cli.js")) && args.includes(String(port));
  });
  if (cli === undefined) return [];
  const children = pids.filter((pid) => stat(pid)?.ppid === cli);
  const workerd = children.filter((pid) => cmdline(pid)[0]?.endsWith("workerd"));
  const proxy = workerd.filter((pid) => cmdline(pid).some((arg) => arg === `--socket-addr=entry=127.0.0.1:${port}`));
  const worker = workerd.filter((pid) => !proxy.includes(pid));
  return [
    { label: "wrangler (node)", pids: [cli] },
    { label: "proxy (workerd)", pids: proxy },
    { label: "worker (workerd)", pids: worker },
  ];
}

/** CPU seconds used so far by each group (the current process: "client"). */
export function cpuSnapshot(groups: ProcessGroup[]): Record<string, number> {
  const snapshot: Record<string, number> = {};
  for (const group of groups) snapshot[group.label] = group.pids.reduce((sum, pid) => sum + (stat(pid)?.cpuSeconds ?? 0), 0);
  const usage = process.cpuUsage();
  snapshot["client (bench, node)"] = (usage.user + usage.system) / 1e6;
  return snapshot;
}

export function cpuDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((key) => [key, Math.round(((after[key] ?? 0) - (before[key] ?? 0)) * 100) / 100]));
}
