/**
 * catalog: what a full model catalog costs B1 and the hot path.
 *
 * Two project workers with the same vars (Gemini and OpenAI keys, both at the fake upstream): one
 * has refreshed a realistic catalog of several hundred models in OpenRouter's shape from the fake
 * upstream (the cron trigger, run by Miniflare's `/cdn-cgi/local/scheduled`), the other has none. B1's
 * chat calls (model flash, a new thread and a continuation) on each, from one connected SDK client
 * each, interleaved (lib/interleave.ts: ABBA over the round, rotated every two rounds). Then,
 * inside workerd (bench/harness `/catalog`), the catalog's own costs: what every request pays
 * (loading the isolate's copy and getting the env's registry, warm), a model lookup with the full
 * catalog and without, what an isolate pays once a minute (the KV read) and once per new catalog
 * (rebuilding its registry), and the catalog's size in KV.
 */
import { CHAT_PROMPT, continuationIds } from "./lib/chat-calls.ts";
import { checkBalanced, measureInterleaved } from "./lib/interleave.ts";
import { connect, timedCall, type Client } from "./lib/mcp.ts";
import { geminiVars, startHarness, startProject, startUpstream } from "./lib/processes.ts";
import { sampleRow, type Row } from "./lib/results.ts";
import { runBenchmark } from "./lib/run.ts";
import { median, pairedRatio } from "./lib/stats.ts";
import { check } from "./lib/targets.ts";
import { fullCatalog, openRouterModel } from "../test/fixtures/model-catalog.ts";

type Kind = "chatWith" | "chatWithout" | "continueWith" | "continueWithout";

const GROUPS: Kind[][] = [
  ["chatWith", "chatWithout"],
  ["continueWith", "continueWithout"],
];

/** Several hundred models, as the public list has (about 400 in late 2026), plus one OpenAI model only the catalog knows. */
const CATALOG_MODELS = 400;

interface CatalogCosts {
  /** Block means of the whole MCP chat request in workerd, on the registry with the catalog and without. */
  chatMs: { withCatalog: number[]; without: number[] };
  entries: number;
  kvBytes: number;
  modelsWithCatalog: number;
  modelsWithout: number;
  ms: Record<
    "perRequest" | "resolveWithCatalog" | "resolveWithout" | "resolveCatalogModel" | "resolvePassedThrough" | "kvRead" | "rebuildWithCatalog" | "rebuildWithout",
    number
  >;
}

await runBenchmark({
  name: "catalog",
  title: "Model catalog: B1 with a full catalog loaded, and its costs on the hot path",
  description: `Sequential chat calls (flash, fake Gemini at 0 ms), new thread and continuation, from one SDK client each, in interleaved rounds (ABBA, rotated): the project with a catalog of ${CATALOG_MODELS + 1} models refreshed into KV vs the same project without one; then, in workerd, the catalog's per-request load, lookups, KV read, registry rebuild and KV size.`,
  budgetSeconds: { full: 300, quick: 120 },
  // `--control aa`: the first worker's refresh is skipped, so both have no catalog (an A/A check of the two processes).
  options: ["control"],
  async run(ctx) {
    const aa = ctx.options["control"] === "aa";
    const upstream = await startUpstream();
    await upstream.setLatency({ firstByteMs: 0, chunkDelayMs: 0 });
    const published = [openRouterModel("openai/gpt-6-preview", { context: 1_000_000, maxOutput: 100_000, input: 2, output: 8 }), ...fullCatalog(CATALOG_MODELS)];
    await upstream.setCatalog({ models: published });
    const vars = {
      ...geminiVars(upstream.url),
      OPENAI_API_KEY: "bench-key",
      OPENAI_BASE_URL: `${upstream.url}/v1`,
      MODEL_CATALOG_URL: `${upstream.url}/api/v1/models`,
    };
    ctx.log("starting the project twice and the harness");
    const [withCatalog, without, harness] = await Promise.all([
      startProject(vars),
      startProject(vars),
      // The harness's chat loops are hundreds of calls a minute: no model-call limit there.
      startHarness({ ...vars, MAX_CONVERSATION_TURNS: "1000", RATE_LIMIT_PER_MINUTE: "0", RATE_LIMIT_PER_TOKEN_PER_MINUTE: "0" }),
    ]);
    // The snapshot is pre-bundled (no_bundle), so wrangler adds no /__scheduled route: Miniflare's own trigger runs the cron.
    if (aa) {
      ctx.note("A/A control run (--control aa): neither worker has a catalog; the ratios compare two identical workers.");
    } else {
      const scheduled = await fetch(`${withCatalog.url}/cdn-cgi/local/scheduled`);
      if (!scheduled.ok) throw new Error(`GET /cdn-cgi/local/scheduled: HTTP ${scheduled.status} ${await scheduled.text()}`);
      await scheduled.text();
      const health = (await (await fetch(`${withCatalog.url}/health`)).json()) as { catalog?: { current: { models: number } | null } };
      if (health.catalog?.current?.models !== published.length) {
        throw new Error(`the catalog did not load: /health shows ${JSON.stringify(health.catalog)}`);
      }
    }

    const clientWith = await connect(withCatalog.mcpUrl);
    const clientWithout = await connect(without.mcpUrl);
    const continuationWith = continuationIds(clientWith);
    const continuationWithout = continuationIds(clientWithout);
    const call = async (kind: Kind) => {
      const client: Client = kind === "chatWith" || kind === "continueWith" ? clientWith : clientWithout;
      if (kind === "chatWith" || kind === "chatWithout") return timedCall(client, "chat", { prompt: CHAT_PROMPT, model: "flash" });
      const id = await (kind === "continueWith" ? continuationWith : continuationWithout)();
      return timedCall(client, "chat", { prompt: CHAT_PROMPT, continuation_id: id });
    };
    const { samples, orders } = await measureInterleaved(ctx, GROUPS, call, {
      warmups: ctx.pick(10, 3),
      rounds: ctx.pick(100, 10),
      budgetMs: ctx.pick(150_000, 30_000),
      label: "measurement",
    });
    await clientWith.close();
    await clientWithout.close();
    ctx.data["orderBalance"] = checkBalanced(orders, [
      ["chatWith", "chatWithout"],
      ["continueWith", "continueWithout"],
    ]);
    ctx.data["samplesMs"] = samples;

    const costs: CatalogCosts[] = [];
    for (const _ of ctx.bounded(ctx.pick(5, 1), 60_000, "catalog costs in workerd")) {
      const response = await fetch(`${harness.url}/catalog?source=${encodeURIComponent(vars.MODEL_CATALOG_URL)}&reps=${ctx.pick(2_000, 200)}`);
      const json = (await response.json()) as CatalogCosts & { error?: string };
      if (!response.ok) throw new Error(`harness /catalog: ${json.error ?? response.status}`);
      costs.push(json);
    }
    ctx.data["costs"] = costs;
    const part = (key: keyof CatalogCosts["ms"]) => median(costs.map((c) => c.ms[key]));
    const first = costs[0]!;

    const ratioNew = pairedRatio(samples.chatWith, samples.chatWithout);
    const ratioContinue = pairedRatio(samples.continueWith, samples.continueWithout);
    const rounded = (x: number) => Math.round(x * 1000) / 1000;
    const micro = (ms: number) => Math.round(ms * 1_000_000) / 1_000;
    const row = (metric: string, kind: Kind, extra: Partial<Row> = {}): Row => sampleRow(metric, "ms", samples[kind], extra);
    const inWorkerd = (metric: string, unit: "µs" | "ms", ms: number): Row => ({ metric, unit, n: costs.length, value: unit === "µs" ? micro(ms) : ms });
    return {
      rows: [
        row(`B1 chat, new thread, with the catalog (${published.length} models) loaded`, "chatWith", {
          ratio: ratioNew,
          baseline: "the same without a catalog",
          target: check("B1 new thread: with the full catalog / without", "<=", 1.05, rounded(ratioNew), "x"),
        }),
        row("B1 chat, new thread, without a catalog", "chatWithout"),
        row("B1 chat, continuation (threads of 1-20 exchanges), with the catalog loaded", "continueWith", {
          ratio: ratioContinue,
          baseline: "the same without a catalog",
          target: check("B1 continuation: with the full catalog / without", "<=", 1.05, rounded(ratioContinue), "x"),
        }),
        row("B1 chat, continuation, without a catalog", "continueWithout"),
        {
          metric: "in workerd: whole MCP chat request (flash, new thread) on the registry with the catalog",
          unit: "ms",
          n: costs.length,
          value: median(costs.flatMap((c) => c.chatMs.withCatalog)),
          ratio: pairedRatio(
            costs.flatMap((c) => c.chatMs.withCatalog),
            costs.flatMap((c) => c.chatMs.without),
          ),
          baseline: "the same without a catalog, alternating blocks of 10",
        },
        inWorkerd("in workerd, every request: load the isolate's catalog copy and get the env's registry (warm)", "µs", part("perRequest")),
        inWorkerd(`in workerd: one lookup of a shipped model, ${first.modelsWithCatalog} models usable with the catalog`, "µs", part("resolveWithCatalog")),
        inWorkerd(`in workerd: the same without a catalog (${first.modelsWithout} models)`, "µs", part("resolveWithout")),
        inWorkerd("in workerd: one lookup of a model only the catalog lists", "µs", part("resolveCatalogModel")),
        inWorkerd("in workerd: the same name without a catalog (passed through: generic capabilities built)", "µs", part("resolvePassedThrough")),
        inWorkerd("in workerd, once a minute per isolate: read the catalog and the last attempt from KV", "ms", part("kvRead")),
        inWorkerd("in workerd, once per new catalog per isolate: rebuild the registry with it", "ms", part("rebuildWithCatalog")),
        inWorkerd("in workerd: build the registry without a catalog (reference)", "ms", part("rebuildWithout")),
        { metric: `catalog in KV (${first.entries} models, normalised JSON)`, unit: "bytes", value: first.kvBytes },
        { metric: "catalog in KV, per model", unit: "bytes", value: Math.round(first.kvBytes / first.entries) },
      ],
    };
  },
});
