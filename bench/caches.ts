/**
 * caches: the KV-backed caches cold vs warm, and their hit rates.
 *
 * tools/list over loopback HTTP (raw JSON-RPC POST, as a client's first request after initialize):
 *   cold   = the first tools/list of a fresh `wrangler dev` with a fresh state directory: a fresh
 *            isolate and empty KV, so the schema cache is empty in both layers (the worker is
 *            already loaded: /health answered and two `initialize` requests went first);
 *   KV     = the first tools/list after a restart on the same state directory (fresh isolate, KV warm);
 *   warm   = repeated tools/list on the running worker (in-isolate hits).
 * The same inside workerd (bench/harness): listTools timed in the isolate, without HTTP.
 * Hit rates: /health's `caches` counters after a mixed run of MCP requests, per isolate.
 */
import { rmSync } from "node:fs";
import { deferCleanup } from "./lib/cleanup.ts";
import { connect, rawRpc } from "./lib/mcp.ts";
import { geminiVars, startHarness, startProject } from "./lib/processes.ts";
import type { Row } from "./lib/results.ts";
import { runBenchmark, type BenchContext } from "./lib/run.ts";
import { median, summarize } from "./lib/stats.ts";
import { check } from "./lib/targets.ts";
import type { WorkerProcess } from "../test/support/worker-process.ts";

interface CacheCounters {
  memoryHits: number;
  kvHits: number;
  misses: number;
  entries: number;
}

/**
 * One cache, measured through the worker. To add a cache (e.g. the token-estimate cache for large
 * files), add a scenario: `cache` is its name in /health's `caches`; `cold` must miss both layers
 * (for tools/list only a fresh worker can, hence `coldNeedsFreshWorker`; a content-keyed cache
 * can miss with new content on a running worker); `warm` must hit the in-isolate layer.
 */
interface CacheScenario {
  cache: string;
  label: string;
  coldNeedsFreshWorker: boolean;
  cold(worker: WorkerProcess, sample: number): Promise<number>;
  warm(worker: WorkerProcess, sample: number): Promise<number>;
}

async function toolsListMs(worker: WorkerProcess): Promise<number> {
  const reply = await rawRpc(worker.mcpUrl, "tools/list");
  const tools = (reply.message?.result as { tools?: unknown[] } | undefined)?.tools;
  if (reply.status !== 200 || !Array.isArray(tools) || tools.length === 0) throw new Error(`tools/list failed: HTTP ${reply.status}`);
  return reply.ms;
}

const SCENARIOS: CacheScenario[] = [
  { cache: "tools-list:v1", label: "tools/list", coldNeedsFreshWorker: true, cold: toolsListMs, warm: toolsListMs },
  // Token estimates of large files (to be added with that cache): a chat call carrying a 1 MB
  // inline file; cold = content never seen (new random text each sample), warm = the same content
  // again. Put its scenario here with coldNeedsFreshWorker: false.
];

async function caches(worker: WorkerProcess): Promise<Record<string, CacheCounters>> {
  const health = (await (await fetch(`${worker.url}/health`)).json()) as { caches?: Record<string, CacheCounters> };
  return health.caches ?? {};
}

/** A mix of what assistants send: connect (initialize), tools/list, a tool call, prompts/list. */
async function mixedRun(ctx: BenchContext, worker: WorkerProcess, clients: number): Promise<void> {
  for (const i of ctx.bounded(clients, 60_000, "mixed run")) {
    const client = await connect(worker.mcpUrl, `mixed-${i}`);
    await client.listTools();
    await client.callTool({ name: "version", arguments: {} });
    await client.listPrompts();
    await client.listTools();
    await client.close();
  }
}

async function initializeTwice(worker: WorkerProcess): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const reply = await rawRpc(worker.mcpUrl, "initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "bench", version: "1" } });
    if (reply.status !== 200) throw new Error(`initialize failed: HTTP ${reply.status}`);
  }
}

await runBenchmark({
  name: "caches",
  title: "Caches: tools/list and token estimates cold vs warm, hit rates",
  description:
    "tools/list on a fresh worker with empty KV (cold), after a restart with KV kept (KV layer), and repeated (warm), over loopback HTTP and inside workerd; hit rates from /health after a mixed run.",
  budgetSeconds: { full: 300, quick: 100 },
  async run(ctx) {
    const vars = geminiVars("http://127.0.0.1:9");
    const workers = ctx.pick(3, 1);
    const warmRequests = ctx.pick(40, 10);
    const mixedClients = ctx.pick(10, 3);
    type Samples = { cold: number[]; kv: number[]; warm: number[]; perWorkerRatio: number[] };
    const http: Record<string, Samples> = Object.fromEntries(SCENARIOS.map((s) => [s.cache, { cold: [], kv: [], warm: [], perWorkerRatio: [] }]));
    const hitCounters: Array<{ phase: string; caches: Record<string, CacheCounters> }> = [];

    for (const i of ctx.bounded(workers, ctx.pick(200_000, 60_000), "fresh workers")) {
      ctx.log(`fresh worker ${i + 1}/${workers}`);
      let worker = await startProject(vars, { keepState: true });
      const persistDir = worker.persistDir;
      const disposeState = deferCleanup(() => rmSync(persistDir, { recursive: true, force: true }));
      await initializeTwice(worker);
      for (const scenario of SCENARIOS) {
        const samples = http[scenario.cache]!;
        const cold: number[] = [];
        if (scenario.coldNeedsFreshWorker) cold.push(await scenario.cold(worker, i));
        else for (const j of ctx.bounded(warmRequests, 60_000, `${scenario.label} cold`)) cold.push(await scenario.cold(worker, j));
        const warm: number[] = [];
        for (const j of ctx.bounded(warmRequests, 60_000, `${scenario.label} warm`)) warm.push(await scenario.warm(worker, j));
        samples.cold.push(...cold);
        samples.warm.push(...warm);
        samples.perWorkerRatio.push(median(cold) / median(warm));
      }
      await mixedRun(ctx, worker, mixedClients);
      hitCounters.push({ phase: `fresh worker ${i + 1}: empty KV`, caches: await caches(worker) });
      // Let the deferred KV writes land before the restart.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await worker.stop();

      worker = await startProject(vars, { persistDir });
      await initializeTwice(worker);
      for (const scenario of SCENARIOS) if (scenario.coldNeedsFreshWorker) http[scenario.cache]!.kv.push(await scenario.cold(worker, i));
      await mixedRun(ctx, worker, mixedClients);
      hitCounters.push({ phase: `restarted worker ${i + 1}: KV kept`, caches: await caches(worker) });
      await worker.stop();
      rmSync(persistDir, { recursive: true, force: true });
      disposeState();
    }

    // Inside workerd: the first listTools of a fresh isolate, then many of each kind.
    const harnessStarts = ctx.pick(3, 1);
    const inIsolate = { firstInIsolate: [] as number[], cold: [] as number[], kv: [] as number[], warmSamples: [] as number[], warmMeanMs: Number.NaN };
    const harnessGet = async (harness: WorkerProcess, path: string) => {
      const response = await fetch(`${harness.url}${path}`);
      const json = (await response.json()) as { samples: number[]; meanMs: number; error?: string };
      if (!response.ok) throw new Error(`harness ${path}: ${json.error ?? response.status}`);
      return json;
    };
    for (const i of ctx.bounded(harnessStarts, 90_000, "harness starts")) {
      const harness = await startHarness(vars);
      inIsolate.firstInIsolate.push(...(await harnessGet(harness, "/tools-list?mode=cold&reps=1")).samples);
      if (i === harnessStarts - 1) {
        inIsolate.cold = (await harnessGet(harness, `/tools-list?mode=cold&reps=${ctx.pick(50, 10)}`)).samples;
        inIsolate.kv = (await harnessGet(harness, `/tools-list?mode=kv&reps=${ctx.pick(30, 5)}`)).samples;
        const warm = await harnessGet(harness, `/tools-list?mode=warm&reps=${ctx.pick(5_000, 500)}`);
        inIsolate.warmSamples = warm.samples;
        inIsolate.warmMeanMs = warm.meanMs;
      }
      await harness.stop();
    }
    // The token estimate of a 1 MB uploaded file, inside workerd.
    const estimateHarness = await startHarness(vars);
    const estimate = (await (await fetch(`${estimateHarness.url}/token-estimate?reps=${ctx.pick(10, 3)}`)).json()) as {
      samples?: { cold: number[]; kv: number[]; warm: number[] };
      error?: string;
    };
    await estimateHarness.stop();
    if (!estimate.samples) throw new Error(`harness /token-estimate: ${estimate.error ?? "no samples"}`);
    ctx.data["tokenEstimate"] = estimate.samples;
    ctx.data["http"] = http;
    ctx.data["inIsolate"] = { ...inIsolate, warmSamples: summarize(inIsolate.warmSamples) };
    ctx.data["hitCounters"] = hitCounters;
    ctx.note("Clocks inside workerd under wrangler dev advance during CPU work (unlike production Workers) but only in whole milliseconds; calls faster than that are timed as a loop (mean per call).");

    const rows: Row[] = [];
    for (const scenario of SCENARIOS) {
      const s = http[scenario.cache]!;
      const cold = summarize(s.cold);
      const kv = summarize(s.kv);
      const warm = summarize(s.warm);
      const ratio = median(s.perWorkerRatio);
      rows.push(
        { metric: `${scenario.label} over HTTP, cold (fresh isolate, empty KV)`, unit: "ms", n: cold.n, min: cold.min, median: cold.median, p99: cold.p99, ratio, baseline: "warm (per worker)" },
        ...(s.kv.length ? [{ metric: `${scenario.label} over HTTP, KV layer (restart, KV kept)`, unit: "ms", n: kv.n, min: kv.min, median: kv.median, p99: kv.p99, ratio: kv.median / warm.median, baseline: "warm" }] : []),
        { metric: `${scenario.label} over HTTP, warm (in-isolate hit)`, unit: "ms", n: warm.n, min: warm.min, median: warm.median, p99: warm.p99 },
      );
    }
    const first = summarize(inIsolate.firstInIsolate);
    const cold = summarize(inIsolate.cold);
    const kv = summarize(inIsolate.kv);
    const inIsolateRatio = first.median / inIsolate.warmMeanMs;
    rows.push(
      {
        metric: "listTools in workerd, cold: first call of a fresh isolate",
        unit: "ms",
        n: first.n,
        min: first.min,
        median: first.median,
        p99: first.p99,
        ratio: inIsolateRatio,
        baseline: "warm mean",
        target: check("listTools in workerd: cold / warm", ">=", 5, Math.round(inIsolateRatio * 10) / 10, "x"),
      },
      { metric: "listTools in workerd, cold key, warm isolate", unit: "ms", n: cold.n, min: cold.min, median: cold.median, p99: cold.p99, ratio: cold.median / inIsolate.warmMeanMs, baseline: "warm mean" },
      { metric: "listTools in workerd, KV layer", unit: "ms", n: kv.n, min: kv.min, median: kv.median, p99: kv.p99, ratio: kv.median / inIsolate.warmMeanMs, baseline: "warm mean" },
      { metric: "listTools in workerd, warm (mean of a timed loop)", unit: "ms", n: inIsolate.warmSamples.length, value: inIsolate.warmMeanMs },
    );
    const estimateCold = summarize(estimate.samples.cold);
    const estimateKv = summarize(estimate.samples.kv);
    const estimateWarm = median(estimate.samples.warm);
    const estimateRatio = estimateCold.median / estimateWarm;
    rows.push(
      {
        metric: "token estimate of a 1 MB file in workerd, cold (both layers empty: the blob's object is read)",
        unit: "ms",
        n: estimateCold.n,
        min: estimateCold.min,
        median: estimateCold.median,
        p99: estimateCold.p99,
        ratio: estimateRatio,
        baseline: "warm mean",
        target: check("token estimate (1 MB file) in workerd: cold / warm", ">=", 5, Math.round(estimateRatio * 10) / 10, "x"),
      },
      { metric: "token estimate in workerd, KV layer", unit: "ms", n: estimateKv.n, min: estimateKv.min, median: estimateKv.median, p99: estimateKv.p99, ratio: estimateKv.median / estimateWarm, baseline: "warm mean" },
      { metric: "token estimate in workerd, warm (mean of a timed loop)", unit: "ms", n: estimate.samples.warm.length, value: estimateWarm },
    );
    // Over HTTP a warm tools/list still pays the fixed cost of a request (about 10 ms here), which
    // caps the ratio; it is reported, and the caches' own effect is the in-workerd target above.
    const targets: ReturnType<typeof check>[] = [];
    const idle = new Set<string>();
    for (const { phase, caches: counters } of hitCounters) {
      for (const [name, c] of Object.entries(counters)) {
        const lookups = c.memoryHits + c.kvHits + c.misses;
        if (lookups === 0) {
          idle.add(name);
          continue;
        }
        rows.push({
          metric: `hit rate ${name}, ${phase} (${c.memoryHits} memory, ${c.kvHits} KV, ${c.misses} misses)`,
          unit: "%",
          value: lookups > 0 ? Math.round(((c.memoryHits + c.kvHits) / lookups) * 1000) / 10 : Number.NaN,
        });
      }
    }
    if (idle.size > 0) ctx.note(`Caches with no lookups in the mixed run (initialize, tools/list, version, prompts/list): ${[...idle].join(", ")}.`);
    return { rows, targets };
  },
});
