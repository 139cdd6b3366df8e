/**
 * caches: the KV-backed caches cold vs warm, and their hit rates.
 *
 * tools/list over loopback HTTP (raw JSON-RPC POST, as a client's first request after initialize),
 * timed by the client (Node's clock resolves microseconds):
 *   cold   = the first tools/list of a fresh `wrangler dev` with a fresh state directory: a fresh
 *            isolate and empty KV, so the schema cache is empty in both layers (the worker is
 *            already loaded: /health answered and two `initialize` requests went first);
 *   KV     = the first tools/list after a restart on the same state directory (fresh isolate, KV warm);
 *   warm   = repeated tools/list on the running worker (in-isolate hits), each paired with a
 *            tools/list of the bare-SDK baseline (bench/baseline, three tools, nothing cached): the
 *            floor of one MCP request over HTTP under `wrangler dev`. The order within a pair
 *            alternates; the target is the median over fresh workers of each worker's median of
 *            paired ratios warm / bare SDK.
 * Inside workerd (bench/harness), where the clock has 1 ms resolution, each layer is timed as a
 * loop (mean per call) and the cache's counters check which layer answered: listTools (a fresh
 * isolate's first call; a key not yet cached in a warm isolate; KV; an in-isolate hit), and the
 * token estimate of ~1 MB uploaded files as a tool gets it (cold: the blob's object is read).
 * Hit rates: /health's `caches` counters after a mixed run of MCP requests, per isolate.
 */
import { rmSync } from "node:fs";
import { deferCleanup } from "./lib/cleanup.ts";
import { connect, rawRpc } from "./lib/mcp.ts";
import { geminiVars, startBaseline, startHarness, startProject } from "./lib/processes.ts";
import type { Row } from "./lib/results.ts";
import { runBenchmark, type BenchContext } from "./lib/run.ts";
import { median, pairedRatio, summarize } from "./lib/stats.ts";
import { check } from "./lib/targets.ts";
import type { WorkerProcess } from "../test/support/worker-process.ts";

interface CacheCounters {
  memoryHits: number;
  kvHits: number;
  misses: number;
  entries: number;
}

async function toolsListMs(worker: WorkerProcess): Promise<number> {
  const reply = await rawRpc(worker.mcpUrl, "tools/list");
  const tools = (reply.message?.result as { tools?: unknown[] } | undefined)?.tools;
  if (reply.status !== 200 || !Array.isArray(tools) || tools.length === 0) throw new Error(`tools/list failed: HTTP ${reply.status}`);
  return reply.ms;
}

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

async function harnessGet<T>(harness: WorkerProcess, path: string): Promise<T> {
  const response = await fetch(`${harness.url}${path}`);
  const json = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(`harness ${path}: ${json.error ?? response.status}`);
  return json;
}

type Loop = { reps: number; meanMs: number };
type Estimate = { files: number; bytesPerFile: number; tokensPerFile: number; warmLookups: number; coldMs: number; kvMs: number; warmMs: number };

await runBenchmark({
  name: "caches",
  title: "Caches: tools/list and token estimates cold vs warm, hit rates",
  description:
    "tools/list on a fresh worker with empty KV (cold), after a restart with KV kept (KV layer), and repeated (warm, paired with the bare SDK's tools/list, order alternated), over loopback HTTP; inside workerd, listTools and the token estimate of ~1 MB uploaded files per cache layer, as timed loops; hit rates from /health after a mixed run.",
  budgetSeconds: { full: 300, quick: 100 },
  async run(ctx) {
    const vars = geminiVars("http://127.0.0.1:9");
    // At least 5 fresh workers in a full run: the warm / bare-SDK target is a median over them.
    const workers = ctx.pick(5, 1);
    const warmPairs = ctx.pick(40, 10);
    const warmUpPairs = 5;
    const mixedClients = ctx.pick(10, 3);
    const http = {
      cold: [] as number[],
      kv: [] as number[],
      warm: [] as number[],
      bareSdk: [] as number[],
      /** Per worker: its cold tools/list over the median of its warm ones. */
      coldOverWarm: [] as number[],
      /** Per worker: the median of its paired ratios warm / bare SDK. */
      warmOverBareSdk: [] as number[],
    };
    const hitCounters: Array<{ phase: string; caches: Record<string, CacheCounters> }> = [];
    const bareSdk = await startBaseline();

    for (const i of ctx.bounded(workers, ctx.pick(200_000, 60_000), "fresh workers")) {
      ctx.log(`fresh worker ${i + 1}/${workers}`);
      let worker = await startProject(vars, { keepState: true });
      const persistDir = worker.persistDir;
      const disposeState = deferCleanup(() => rmSync(persistDir, { recursive: true, force: true }));
      await initializeTwice(worker);
      const cold = await toolsListMs(worker);
      for (const _ of ctx.bounded(warmUpPairs, 30_000, "tools/list warm-up")) {
        await toolsListMs(worker);
        await toolsListMs(bareSdk);
      }
      const warm: number[] = [];
      const bare: number[] = [];
      for (const pair of ctx.bounded(warmPairs, 60_000, "tools/list warm")) {
        // Alternate which goes first, so neither side always follows the other.
        if (pair % 2 === 0) {
          warm.push(await toolsListMs(worker));
          bare.push(await toolsListMs(bareSdk));
        } else {
          bare.push(await toolsListMs(bareSdk));
          warm.push(await toolsListMs(worker));
        }
      }
      http.cold.push(cold);
      http.warm.push(...warm);
      http.bareSdk.push(...bare);
      http.coldOverWarm.push(cold / median(warm));
      http.warmOverBareSdk.push(pairedRatio(warm, bare));
      await mixedRun(ctx, worker, mixedClients);
      hitCounters.push({ phase: `fresh worker ${i + 1}: empty KV`, caches: await caches(worker) });
      // Let the deferred KV writes land before the restart.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await worker.stop();

      worker = await startProject(vars, { persistDir });
      await initializeTwice(worker);
      http.kv.push(await toolsListMs(worker));
      await mixedRun(ctx, worker, mixedClients);
      hitCounters.push({ phase: `restarted worker ${i + 1}: KV kept`, caches: await caches(worker) });
      await worker.stop();
      rmSync(persistDir, { recursive: true, force: true });
      disposeState();
    }

    await bareSdk.stop();

    // Inside workerd: the first listTools of each fresh isolate, then timed loops per layer.
    const harnessStarts = ctx.pick(3, 1);
    const first: number[] = [];
    const loops = { cold: [] as number[], kv: [] as number[], warm: [] as number[] };
    const coldReps = ctx.pick(50, 10);
    // An in-isolate hit takes microseconds: 50,000 of them make a loop of ~100 ms on the 1 ms clock.
    const warmReps = ctx.pick(50_000, 2_000);
    const estimates: Estimate[] = [];
    for (const i of ctx.bounded(harnessStarts, 120_000, "harness starts")) {
      const harness = await startHarness(vars);
      first.push((await harnessGet<Loop>(harness, "/tools-list?mode=first")).meanMs);
      for (const mode of ["cold", "kv", "warm"] as const) {
        const reps = mode === "warm" ? warmReps : coldReps;
        loops[mode].push((await harnessGet<Loop>(harness, `/tools-list?mode=${mode}&reps=${reps}`)).meanMs);
      }
      estimates.push(await harnessGet<Estimate>(harness, `/token-estimate?files=${ctx.pick(20, 5)}&warmPasses=${ctx.pick(500, 400)}`));
      await harness.stop();
      ctx.log(`harness ${i + 1}/${harnessStarts}: first listTools ${first.at(-1)} ms, token estimate cold ${estimates.at(-1)?.coldMs.toFixed(3)} ms`);
    }
    ctx.data["http"] = http;
    ctx.data["inWorkerd"] = { firstListTools: first, listToolsLoops: loops, tokenEstimates: estimates };
    ctx.data["hitCounters"] = hitCounters;
    ctx.note(
      "Clocks inside workerd under wrangler dev advance during CPU work (unlike production Workers) but only in whole milliseconds: " +
        "each in-workerd figure but a fresh isolate's first listTools (one call) is the mean of a timed loop; the caches' counters confirm the layer that answered.",
    );

    const rows: Row[] = [];
    const cold = summarize(http.cold);
    const kv = summarize(http.kv);
    const warm = summarize(http.warm);
    const floor = summarize(http.bareSdk);
    const warmOverBareSdk = median(http.warmOverBareSdk);
    rows.push(
      {
        metric: "tools/list over HTTP, cold (fresh isolate, empty KV)",
        unit: "ms",
        n: cold.n,
        min: cold.min,
        median: cold.median,
        p99: cold.p99,
        ratio: median(http.coldOverWarm),
        baseline: "warm (per worker)",
      },
      { metric: "tools/list over HTTP, KV layer (restart, KV kept)", unit: "ms", n: kv.n, min: kv.min, median: kv.median, p99: kv.p99, ratio: kv.median / warm.median, baseline: "warm" },
      {
        metric: `tools/list over HTTP, warm (in-isolate hit), ${http.warmOverBareSdk.length} fresh workers`,
        unit: "ms",
        n: warm.n,
        min: warm.min,
        median: warm.median,
        p99: warm.p99,
        ratio: warmOverBareSdk,
        baseline: "bare SDK: median over workers of each one's paired ratios",
        target: check("tools/list over HTTP: warm / bare SDK (paired, per worker)", "<=", 1.05, Math.round(warmOverBareSdk * 1000) / 1000, "x"),
      },
      {
        metric: "tools/list over HTTP, bare-SDK baseline (3 tools, no cache): one MCP request's floor, paired with warm, order alternated",
        unit: "ms",
        n: floor.n,
        min: floor.min,
        median: floor.median,
        p99: floor.p99,
      },
    );
    const warmMean = median(loops.warm);
    const firstSummary = summarize(first);
    const inIsolateRatio = firstSummary.median / warmMean;
    const loopsOf = (count: number, of: string) => `${count} loop${count === 1 ? "" : "s"} of ${of}`;
    const loopRow = (metric: string, values: number[], reps: number, extra: Partial<Row> = {}): Row => ({
      metric: `${metric} (${loopsOf(values.length, String(reps))})`,
      unit: "ms",
      n: values.length,
      value: median(values),
      ratio: median(values) / warmMean,
      baseline: "warm",
      ...extra,
    });
    rows.push(
      {
        metric: "listTools in workerd, cold: first call of a fresh isolate (one call each)",
        unit: "ms",
        n: firstSummary.n,
        min: firstSummary.min,
        median: firstSummary.median,
        p99: firstSummary.p99,
        ratio: inIsolateRatio,
        baseline: "warm",
        target: check("listTools in workerd: cold / warm", ">=", 5, Math.round(inIsolateRatio * 10) / 10, "x"),
      },
      loopRow("listTools in workerd, cold key in a warm isolate, mean per call", loops.cold, coldReps, {
        target: check("listTools in workerd: cold key in a warm isolate / in-isolate hit", ">=", 100, Math.round((median(loops.cold) / warmMean) * 10) / 10, "x"),
      }),
      loopRow("listTools in workerd, KV layer, mean per call", loops.kv, coldReps),
      { metric: `listTools in workerd, warm (in-isolate hit), mean per call (${loopsOf(loops.warm.length, String(warmReps))})`, unit: "ms", n: loops.warm.length, value: warmMean },
    );
    const estimateWarm = median(estimates.map((e) => e.warmMs));
    const estimateCold = median(estimates.map((e) => e.coldMs));
    const estimateRatio = estimateCold / estimateWarm;
    const sample = estimates[0];
    const size = sample ? `${(sample.bytesPerFile / 1e6).toFixed(2)} MB file, ${sample.tokensPerFile.toLocaleString("en-US")} tokens` : "1 MB file";
    rows.push(
      {
        metric: `token estimate of an uploaded ${size}, in workerd, cold (neither layer: the blob's object is read), mean per file (${loopsOf(estimates.length, `${sample?.files ?? 0} files`)})`,
        unit: "ms",
        n: estimates.length,
        value: estimateCold,
        ratio: estimateRatio,
        baseline: "warm",
        target: check("token estimate (1 MB file) in workerd: cold / warm", ">=", 5, Math.round(estimateRatio * 10) / 10, "x"),
      },
      { metric: "token estimate in workerd, KV layer, mean per file", unit: "ms", n: estimates.length, value: median(estimates.map((e) => e.kvMs)), ratio: median(estimates.map((e) => e.kvMs)) / estimateWarm, baseline: "warm" },
      { metric: `token estimate in workerd, warm, mean per lookup (${loopsOf(estimates.length, String(sample?.warmLookups ?? 0))})`, unit: "ms", n: estimates.length, value: estimateWarm },
    );
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
          value: Math.round(((c.memoryHits + c.kvHits) / lookups) * 1000) / 10,
        });
      }
    }
    if (idle.size > 0) ctx.note(`Caches with no lookups in the mixed run (initialize, tools/list, version, prompts/list): ${[...idle].join(", ")}.`);
    return { rows };
  },
});
