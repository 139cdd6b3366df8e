/**
 * Starting what the benchmarks measure: the project worker, the baseline worker and the harness
 * worker under `wrangler dev` (through test/support/worker-process.ts, from frozen snapshots: see
 * snapshot.ts), and the fake upstream as a separate Node process (so its work does not share the
 * client's event loop), driven through its HTTP control API. Each start registers its stop with
 * the cleanup registry.
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import type { CatalogAnswer, Fault, Latency, RecordedRequest } from "../../test/fake-upstream/server.ts";
import { startWorker, stopProcess, type StartOptions, type WorkerProcess } from "../../test/support/worker-process.ts";
import { deferCleanup, trackChild } from "./cleanup.ts";
import { ROOT } from "./paths.ts";
import { workerConfig } from "./snapshot.ts";

export { AGENTS_CONFIG, BASELINE_CONFIG, HARNESS_CONFIG, PROJECT_CONFIG, ROOT, SDK_HANDLER_CONFIG } from "./paths.ts";

/**
 * startWorker, tried once more when a port it picked free was taken before wrangler bound it
 * (other engineers' test runs share the machine and its ports).
 */
async function startWorkerOnFreePorts(options: StartOptions): Promise<WorkerProcess> {
  try {
    return await startWorker(options);
  } catch (error) {
    if (!String(error).includes("Address already in use")) throw error;
    return startWorker(options);
  }
}

/**
 * startWorker, with its stop registered for cleanup even while it is still starting. The state
 * directory is deleted after the stop unless the caller passed one or asked to keep it.
 */
async function started(options: StartOptions, keepState = false): Promise<WorkerProcess> {
  const ownsState = options.persistDir === undefined && !keepState;
  const starting = startWorkerOnFreePorts({ timeoutMs: 120_000, ...options });
  const removeState = (worker: WorkerProcess | undefined) => {
    if (ownsState && worker) rmSync(worker.persistDir, { recursive: true, force: true });
  };
  const dispose = deferCleanup(async () => {
    const worker = await starting.catch(() => undefined);
    await worker?.stop();
    removeState(worker);
  });
  let worker: WorkerProcess;
  try {
    worker = await starting;
  } catch (error) {
    dispose();
    throw error;
  }
  return {
    ...worker,
    stop: async () => {
      dispose();
      await worker.stop();
      removeState(worker);
    },
  };
}

/**
 * A team limit no benchmark reaches (the concurrency rounds send thousands of requests a minute
 * as the one team of a loopback server), so the limiter's call is measured and never refuses.
 */
const BENCH_RATE_LIMIT = { RATE_LIMIT_PER_MINUTE: "1000000", RATE_LIMIT_REQUESTS_PER_MINUTE: "10000000" };

/**
 * The project's worker (wrangler.toml) with extra vars. `persistDir` reuses a state directory
 * (left in place); `keepState` keeps a new one after the stop (for a restart; delete it yourself).
 */
export function startProject(vars: Record<string, string>, state: { persistDir?: string; keepState?: boolean } = {}): Promise<WorkerProcess> {
  return started(
    { config: workerConfig("project"), vars: { ...BENCH_RATE_LIMIT, ...vars }, ...(state.persistDir ? { persistDir: state.persistDir } : {}) },
    state.keepState,
  );
}

/**
 * A variant of the project, with extra vars: `agents`, ConversationDO on the `agents` Agent base
 * class (bench/agents/); `sdk`, /mcp served by the MCP SDK's own handler (bench/sdk-handler/);
 * `cost`, the project with counting wrappers around its bindings (bench/cost-harness/).
 */
export function startVariant(kind: "agents" | "sdk" | "cost", vars: Record<string, string>): Promise<WorkerProcess> {
  return started({ config: workerConfig(kind), vars: { ...BENCH_RATE_LIMIT, ...vars } });
}

/** The project from another config, e.g. at an earlier commit (snapshot.ts: buildCommitSnapshot), with extra vars. */
export function startConfig(config: string, vars: Record<string, string>): Promise<WorkerProcess> {
  return started({ config, vars: { ...BENCH_RATE_LIMIT, ...vars } });
}

/** bench/baseline: the bare SDK; UPSTREAM_URL is the fake upstream's base URL. */
export function startBaseline(vars: Record<string, string> = {}): Promise<WorkerProcess> {
  return started({ config: workerConfig("baseline"), vars });
}

/** bench/harness: the project's modules timed inside workerd. */
export function startHarness(vars: Record<string, string>): Promise<WorkerProcess> {
  return started({ config: workerConfig("harness"), vars });
}

/** Vars that make the project (or harness) call the fake upstream for Gemini models. */
export function geminiVars(upstreamUrl: string): Record<string, string> {
  return { GEMINI_API_KEY: "bench-key", GEMINI_BASE_URL: upstreamUrl };
}

export interface Upstream {
  url: string;
  pid: number | undefined;
  setLatency(latency: Latency): Promise<void>;
  /** What its `GET …/api/v1/models` (the model catalog) answers. */
  setCatalog(answer: CatalogAnswer): Promise<void>;
  fault(fault: Fault | Fault[]): Promise<void>;
  clearFaults(): Promise<void>;
  clearRequests(): Promise<void>;
  /** Logged upstream requests (bodies included: clear the log in long runs). */
  requests(): Promise<RecordedRequest[]>;
  requestCount(): Promise<number>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** The fake upstream (test/fake-upstream/server.ts) as a child process on a free loopback port. */
export async function startUpstream(): Promise<Upstream> {
  const child = spawn(process.execPath, [resolve(ROOT, "test/fake-upstream/server.ts"), "--port", "0", "--host", "127.0.0.1"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  trackChild(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = () => stopProcess(child);
  const dispose = deferCleanup(stop);
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`fake upstream did not start in 30 s:\n${stderr}`)), 30_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (match?.[1]) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`fake upstream exited with ${code}:\n${stderr}`));
    });
  });
  const control = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${url}/__control/${path}`, {
      method,
      ...(body !== undefined ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`fake upstream control ${method} ${path}: HTTP ${response.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  return {
    url,
    pid: child.pid,
    setLatency: async (latency) => void (await control("POST", "latency", latency)),
    setCatalog: async (answer) => void (await control("POST", "catalog", answer)),
    fault: async (fault) => void (await control("POST", "faults", fault)),
    clearFaults: async () => void (await control("DELETE", "faults")),
    clearRequests: async () => void (await control("DELETE", "requests")),
    requests: async () => (await control("GET", "requests")) as RecordedRequest[],
    requestCount: async () => ((await control("GET", "requests")) as unknown[]).length,
    reset: async () => void (await control("POST", "reset")),
    stop: async () => {
      dispose();
      await stop();
    },
  };
}
