/**
 * Starts the real worker under `wrangler dev` (local mode: no account, no network) on a free
 * loopback port, with its state persisted in a directory the caller may reuse across restarts.
 * Used by the end-to-end tests and the benchmarks.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const ROOT = resolve(import.meta.dirname, "../..");

export interface WorkerProcess {
  url: string;
  mcpUrl: string;
  port: number;
  persistDir: string;
  /** The wrangler process (workerd runs as its descendant). */
  pid: number;
  /** Output of wrangler so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
  /** SIGKILL to wrangler and every process below it (workerd): a crash, with no chance to flush. */
  kill(): Promise<void>;
}

export interface StartOptions {
  vars?: Record<string, string>;
  /** Reuse a state directory (a restart keeps threads); a fresh temp dir by default. */
  persistDir?: string;
  /** Another wrangler config, e.g. a benchmark's baseline worker. */
  config?: string;
  /** Environment of the wrangler process, e.g. NODE_EXTRA_CA_CERTS for a test's own certificate authority. */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** The address wrangler dev listens on: 127.0.0.1 by default, 0.0.0.0 for every interface. */
  ip?: string;
  /** `--test-scheduled`: `GET /__scheduled` runs the worker's cron trigger. */
  testScheduled?: boolean;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Ends a child process: SIGTERM, then SIGKILL after 5 s. */
export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(force);
      done();
    });
    child.kill("SIGTERM");
  });
}

/** The processes below `pid`, deepest first. */
export function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" })
      .split("\n")
      .map((line) => Number(line.trim()))
      .filter((child) => child > 0);
  } catch {
    // ps exits 1 when there are none.
  }
  return children.flatMap((child) => [...descendants(child), child]);
}

/**
 * Every `wrangler dev` this process started and that still runs: killed when the process exits,
 * so none outlives a test run whose teardown never came (a hook that timed out, a crash).
 */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) killTreeNow(child);
});

/** Sends SIGKILL to a process and everything below it, deepest first, without waiting. */
function killTreeNow(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  for (const pid of [...descendants(child.pid), child.pid]) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** Kills a process and everything below it with SIGKILL, and waits for the process to exit. */
export function killTree(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  killTreeNow(child);
  return exited;
}

/** `wrangler dev` (on loopback unless told otherwise), offline, with persisted local state, as tests and benchmarks run it. */
export function spawnWranglerDev(options: {
  config?: string;
  ip?: string;
  port: number;
  inspectorPort: number;
  persistDir: string;
  vars?: Record<string, string>;
  env?: Record<string, string>;
  testScheduled?: boolean;
}): ChildProcess {
  const vars = Object.entries(options.vars ?? {}).flatMap(([key, value]) => ["--var", `${key}:${value}`]);
  const args = [
    join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
    "dev",
    "--config",
    options.config ?? join(ROOT, "wrangler.toml"),
    "--ip",
    options.ip ?? "127.0.0.1",
    "--port",
    String(options.port),
    "--inspector-port",
    String(options.inspectorPort),
    "--persist-to",
    options.persistDir,
    "--log-level",
    "warn",
    "--show-interactive-dev-session=false",
    ...(options.testScheduled ? ["--test-scheduled"] : []),
    ...vars,
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

export async function startWorker(options: StartOptions = {}): Promise<WorkerProcess> {
  const port = await freePort();
  const persistDir = options.persistDir ?? mkdtempSync(join(tmpdir(), "zen-worker-"));
  const child = spawnWranglerDev({
    port,
    inspectorPort: await freePort(),
    persistDir,
    ...(options.config ? { config: options.config } : {}),
    ...(options.ip ? { ip: options.ip } : {}),
    ...(options.vars ? { vars: options.vars } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.testScheduled ? { testScheduled: true } : {}),
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}:\n${output}`);
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) {
        await response.body?.cancel();
        return {
          url,
          mcpUrl: `${url}/mcp`,
          port,
          persistDir,
          pid: child.pid ?? 0,
          output: () => output,
          stop: () => stopProcess(child),
          kill: () => killTree(child),
        };
      }
      await response.body?.cancel();
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  await stopProcess(child);
  throw new Error(`wrangler dev did not become healthy on ${url} in time:\n${output}`);
}
