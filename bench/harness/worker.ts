/**
 * Benchmark harness: a Worker that imports the project's modules and times them inside workerd,
 * answering JSON. Loopback HTTP adds a few milliseconds of noise per request (client, wrangler's
 * proxy workerd, the worker's workerd); timing inside the isolate removes it.
 *
 * Clocks: in production Workers, Date.now() and performance.now() advance only on I/O. Under
 * `wrangler dev` (workerd locally) they advance during CPU work too; GET /clock checks it, and the
 * benchmarks refuse in-isolate figures when it does not hold (see bench/README.md).
 *
 * Routes (all GET, parameters in the query):
 *   /health
 *   /clock?iterations=N                         CPU loop without I/O: how far each clock moved
 *   /tools-list?mode=first|cold|kv|warm&reps=N   the project's listTools: the first call of the isolate,
 *                                                a miss in both layers, a KV hit (in-isolate layer
 *                                                evicted), an in-isolate hit; timed loops
 *   /token-estimate?files=N&warmPasses=M         the token estimate of ~1 MB uploaded files, cold,
 *                                                from KV, warm; timed loops
 *   /breaker/open?model=flash                    fails calls (the upstream must answer 503) until open
 *   /breaker/fail-fast?model=flash&reps=N&loops=L callModel through the open breaker, timed loops
 *   /breaker/happy?model=flash&blocks=N&block=M  callModel vs the provider module's generate, in timed blocks
 *   /breaker/bookkeeping?reps=N                  the breaker's own work per call on a closed breaker
 *   /breaker/requests?model=flash&calls=N        the breaker's Durable Object requests on the happy path,
 *                                                counted, while the isolate's cached state is fresh
 *   /attribution?reps=N                          where a chat call's time goes: the whole MCP request
 *                                                and its parts, each as the mean of a timed loop
 *   /catalog?source=URL&reps=N                   the model catalog: refreshed from URL (its KV size),
 *                                                then its costs on the hot path (the per-request load,
 *                                                the registry lookup, with and without it), a KV read
 *                                                and a registry rebuild; timed loops
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { configOf } from "../../src/core/config.ts";
import { limitsOf, ThreadWriter } from "../../src/conversation/threads.ts";
import type { NewTurn } from "../../src/core/rpc/conversation.ts";
import { runTool } from "../../src/mcp/run-tool.ts";
import { handleMcpRequest } from "../../src/mcp/handler.ts";
import { argumentSchema } from "../../src/mcp/tool-schemas.ts";
import { chat } from "../../src/tools/chat.ts";
import type { ToolCard } from "../../src/tools/define.ts";
import type { Env } from "../../src/core/env.ts";
import { listTools, modelFieldDescription } from "../../src/mcp/tool-schemas.ts";
import { StreamFacts, blobFactsCache, blobStub, writeObject } from "../../src/files/blob-store.ts";
import { sourceOf } from "../../src/files/resolve.ts";
import { type FileEntry } from "../../src/core/rpc/conversation.ts";
import { cacheStats, type CacheStats } from "../../src/kv-cache/cache.ts";
import { BREAKER_CACHE_TTL_MS, breakerName, ProviderBreakers } from "../../src/providers/breaker.ts";
import { callModel, chooseModel, type CallDeps, type CallOptions, type CallResult, type ModelChoice } from "../../src/providers/call.ts";
import { descriptorOf } from "../../src/providers/catalog.ts";
import { ModelRegistry, registryFor } from "../../src/providers/registry.ts";
import { CATALOG_KEY, forgetCatalogCopy, loadCatalog, refreshCatalog } from "../../src/providers/model-catalog.ts";
import { parseProviders } from "../../src/providers/catalog.ts";
import { ProviderError, type ModelRequest } from "../../src/providers/types.ts";
import { enabledTools } from "../../src/tools/index.ts";

/** Chooses the model as a tool would, then calls it. */
async function chooseAndCall(deps: CallDeps, choice: ModelChoice, request: ModelRequest, options?: CallOptions): Promise<CallResult> {
  return callModel(deps, await chooseModel(deps, choice), request, options);
}


// The project's Durable Object classes (its default export, the Hono app, is not re-exported).
export * from "../../src/worker.ts";

/** The in-isolate LRU of the tools/list cache holds this many entries (src/mcp/tool-schemas.ts). */
const TOOLS_LIST_LRU_ENTRIES = 32;

const REQUEST = { systemPrompt: "You are a benchmark.", prompt: "Say something short." } satisfies ModelRequest;

function intParam(url: URL, name: string, fallback: number, max: number): number {
  const value = Number(url.searchParams.get(name) ?? fallback);
  return Number.isInteger(value) && value > 0 ? Math.min(value, max) : fallback;
}

/** Collects deferred work (KV writes, breaker reports) so a measurement can wait for it outside its timing. */
function deferrals() {
  const pending: Promise<unknown>[] = [];
  return {
    defer: (work: Promise<unknown>) => void pending.push(work.catch(() => undefined)),
    settle: async () => {
      while (pending.length > 0) await Promise.all(pending.splice(0));
    },
  };
}

function clock(url: URL) {
  const iterations = intParam(url, "iterations", 20_000_000, 500_000_000);
  const date0 = Date.now();
  const perf0 = performance.now();
  let x = 0;
  for (let i = 0; i < iterations; i++) x = (x * 31 + i) % 1_000_003;
  return { iterations, dateDeltaMs: Date.now() - date0, perfDeltaMs: performance.now() - perf0, checksum: x };
}

/** Lookups of one cache (by its /health name) since `before`: which layer answered. */
function cacheDelta(name: string, before: Record<string, CacheStats>): { memoryHits: number; kvHits: number; misses: number } {
  const now = cacheStats()[name];
  const was = before[name];
  return {
    memoryHits: (now?.memoryHits ?? 0) - (was?.memoryHits ?? 0),
    kvHits: (now?.kvHits ?? 0) - (was?.kvHits ?? 0),
    misses: (now?.misses ?? 0) - (was?.misses ?? 0),
  };
}

/** Throws unless every one of `count` lookups was answered by `layer`. */
function expectLayer(label: string, delta: ReturnType<typeof cacheDelta>, layer: keyof ReturnType<typeof cacheDelta>, count: number): void {
  if (delta[layer] !== count || delta.memoryHits + delta.kvHits + delta.misses !== count) {
    throw new Error(`${label}: expected ${count} ${layer}, the cache counted ${JSON.stringify(delta)}`);
  }
}

/**
 * The project's listTools. The clock has 1 ms resolution, so every mode but `first` is timed as
 * a loop (mean per call over `reps` calls):
 *   first  one call, the first of this isolate (a new key: both layers miss), timed alone;
 *   cold   `reps` keys never seen (a fresh deploy or configuration): both layers miss;
 *   kv     `reps` keys stored in KV beforehand and evicted from the isolate: KV answers;
 *   warm   one key, `reps` times: the isolate answers.
 * The cache's own counters check that the layer named answered every call. Deferred KV writes
 * are awaited after the loop, outside its time.
 */
async function toolsList(env: Env, url: URL) {
  const mode = url.searchParams.get("mode") ?? "warm";
  const reps = mode === "first" ? 1 : intParam(url, "reps", 20, 100_000);
  const config = configOf(env);
  const tools = enabledTools(config);
  const description = modelFieldDescription(config, registryFor(env));
  const { defer, settle } = deferrals();
  // A distinct description is a distinct cache key: a miss in both layers, as after a deploy.
  const keys = Array.from({ length: reps }, (_, rep) => (mode === "warm" ? description : `${description} [bench ${Date.now()}-${rep}-${Math.random()}]`));
  if (mode === "warm") {
    await listTools(env.CACHE, tools, description, defer);
  } else if (mode === "kv") {
    for (const key of keys) await listTools(env.CACHE, tools, key, defer);
    await settle();
    // Evict them from the in-isolate LRU (other new keys, their KV writes dropped) so KV answers.
    for (let i = 0; i < TOOLS_LIST_LRU_ENTRIES; i++) await listTools(env.CACHE, tools, `${keys[0]} [evict ${i}]`, () => undefined);
  }
  await settle();
  const before = cacheStats();
  const start = performance.now();
  for (const key of keys) {
    const listed = await listTools(env.CACHE, tools, key, defer);
    if (listed.length !== tools.length) throw new Error(`listTools returned ${listed.length} tools, expected ${tools.length}`);
  }
  const meanMs = (performance.now() - start) / reps;
  expectLayer(`tools-list ${mode}`, cacheDelta("tools-list:v2", before), mode === "warm" ? "memoryHits" : mode === "kv" ? "kvHits" : "misses", reps);
  await settle();
  return { mode, reps, meanMs };
}

/** Deterministic source-like text of about `bytes` bytes, different for each `seed`. */
function largeFile(seed: string, bytes: number): Uint8Array {
  const line = "const total = items.reduce((sum, item) => sum + item.price * item.quantity, 0);\n";
  return new TextEncoder().encode(`// ${seed}\n${line.repeat(Math.ceil(bytes / line.length))}`);
}

/**
 * The token estimate of a large uploaded file as a tool gets it (sourceOf, what embedding and
 * the budgets read; the estimate is counted once, at upload, and kept with the blob's facts
 * behind KV and the in-isolate cache). `files` blobs of ~1 MB are uploaded first, as the upload
 * route stores them; then each layer is timed as a loop over those files (mean per file):
 *   cold  neither layer has the file's facts: its blob object is read;
 *   kv    the isolate's layer dropped: KV answers;
 *   warm  the isolate answers (`warmPasses` passes over the files).
 * Every estimate is checked against the file's characters / 4, and the cache's counters against
 * the layer named.
 */
async function tokenEstimate(env: Env, url: URL) {
  const count = intParam(url, "files", 10, 100);
  const warmPasses = intParam(url, "warmPasses", 100, 10_000);
  const team = "bench";
  const { defer, settle } = deferrals();
  const scope = { env, team, workspace: "bench", waitUntil: defer };
  const files: Array<{ entry: FileEntry; tokens: number; bytes: number }> = [];
  for (let i = 0; i < count; i++) {
    const content = largeFile(`${Date.now()} ${i} ${Math.random()}`, 1_000_000);
    const facts = new StreamFacts("text/plain");
    await facts.update(content);
    const { sha256, facts: blob } = await facts.finish();
    const stub = blobStub(env, team, sha256);
    const uploadId = crypto.randomUUID();
    const { maxBytes, teamQuotaBytes } = configOf(env).blobs;
    const begun = await stub.begin({ team, sha256, uploadId, size: content.length, maxBytes, mediaType: "text/plain", quotaBytes: teamQuotaBytes });
    if (begun.status !== "started") throw new Error(`the upload did not start: ${begun.status}`);
    const onMultipart = async () => {
      throw new Error("a 1 MB file goes up in one put");
    };
    await writeObject(new Blob([content]).stream(), { bucket: env.BLOB_BUCKET, key: begun.key, mediaType: "text/plain", length: content.length, maxBytes, watch: {}, onMultipart });
    await stub.commit(uploadId, blob);
    const expected = Math.ceil(new TextDecoder().decode(content).length / 4);
    if (blob.tokens !== expected) throw new Error(`the upload counted ${blob.tokens} tokens, expected ${expected}`);
    files.push({ entry: { path: `/bench/large-${i}.ts`, sha256 }, tokens: blob.tokens, bytes: content.length });
  }
  const pass = async () => {
    for (const file of files) {
      const source = await sourceOf(scope, file.entry);
      if (source.tokens !== file.tokens || source.unavailable) throw new Error(`token estimate ${source.tokens} (${source.unavailable ?? "available"}), expected ${file.tokens}`);
    }
  };
  const timedPasses = async (layer: "misses" | "kvHits" | "memoryHits", passes: number) => {
    const before = cacheStats();
    const start = performance.now();
    for (let i = 0; i < passes; i++) await pass();
    const meanMs = (performance.now() - start) / (passes * files.length);
    expectLayer(`token estimate (${layer})`, cacheDelta(blobFactsCache.name, before), layer, passes * files.length);
    await settle();
    return meanMs;
  };
  const coldMs = await timedPasses("misses", 1);
  blobFactsCache.clearMemory();
  const kvMs = await timedPasses("kvHits", 1);
  const warmMs = await timedPasses("memoryHits", warmPasses);
  return { files: files.length, bytesPerFile: files[0]?.bytes ?? 0, tokensPerFile: files[0]?.tokens ?? 0, warmLookups: warmPasses * files.length, coldMs, kvMs, warmMs };
}

function callDeps(env: Env, defer: (work: Promise<unknown>) => void) {
  const config = configOf(env);
  return { env, team: "bench", config, registry: registryFor(env), waitUntil: defer };
}

async function openBreaker(env: Env, url: URL) {
  const model = url.searchParams.get("model") ?? "flash";
  const { defer, settle } = deferrals();
  const deps = callDeps(env, defer);
  for (let attempt = 1; attempt <= deps.config.breaker.failureThreshold + 5; attempt++) {
    try {
      await chooseAndCall(deps, { requested: model, category: "fast_response" }, REQUEST);
      throw new Error("the upstream answered; it must answer 503 while the breaker is opened");
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      if (error.kind === "breaker_open") {
        await settle();
        return { opened: true, failedCalls: attempt - 1 };
      }
    }
  }
  await settle();
  return { opened: false };
}

/**
 * callModel through the open breaker: `loops` timed loops of `reps` calls each, the mean per call
 * of each loop (the 1 ms clock does not resolve one call).
 */
async function failFast(env: Env, url: URL) {
  const model = url.searchParams.get("model") ?? "flash";
  const reps = intParam(url, "reps", 1_000, 20_000);
  const loops = intParam(url, "loops", 5, 100);
  const { defer, settle } = deferrals();
  const deps = callDeps(env, defer);
  const loopMeansMs: number[] = [];
  let wrongOutcomes = 0;
  for (let loop = 0; loop < loops; loop++) {
    const start = performance.now();
    for (let rep = 0; rep < reps; rep++) {
      try {
        await chooseAndCall(deps, { requested: model, category: "fast_response" }, REQUEST);
        wrongOutcomes++;
      } catch (error) {
        if (!(error instanceof ProviderError) || error.kind !== "breaker_open") wrongOutcomes++;
      }
    }
    loopMeansMs.push((performance.now() - start) / reps);
  }
  await settle();
  return { reps, loopMeansMs, wrongOutcomes };
}

/**
 * The happy path with the breaker in it (callModel) and without (the provider module's generate,
 * same request, same options), in alternating blocks of `block` consecutive calls, each block
 * timed as a whole (the clock has 1 ms resolution): mean ms per call per block.
 */
async function happy(env: Env, url: URL) {
  const model = url.searchParams.get("model") ?? "flash";
  const blocks = intParam(url, "blocks", 20, 500);
  const block = intParam(url, "block", 20, 200);
  const { defer, settle } = deferrals();
  const deps = callDeps(env, defer);
  const resolved = deps.registry.resolve(model);
  const { generate } = descriptorOf(resolved.provider.id);
  const onProgress = () => undefined;
  const policy = { deadlineMs: deps.config.providerCall.deadlineMs, maxAttempts: deps.config.providerCall.maxAttempts };
  const withBreaker: number[] = [];
  const direct: number[] = [];
  const one = async (which: "breaker" | "direct") => {
    const response =
      which === "breaker"
        ? (await chooseAndCall(deps, { requested: model, category: "fast_response" }, REQUEST, { onProgress })).response
        : await generate(resolved.provider, resolved, REQUEST, { onProgress, policy });
    if (!response.text) throw new Error("empty answer");
  };
  for (let i = 0; i < block; i++) {
    await one("breaker");
    await one("direct");
  }
  for (let b = 0; b < blocks; b++) {
    // ABBA: alternate which side goes first, so drift falls on both sides equally.
    const order: Array<"breaker" | "direct"> = b % 2 === 0 ? ["breaker", "direct"] : ["direct", "breaker"];
    for (const which of order) {
      const start = performance.now();
      for (let i = 0; i < block; i++) await one(which);
      (which === "breaker" ? withBreaker : direct).push((performance.now() - start) / block);
    }
  }
  await settle();
  return { block, withBreaker, direct };
}

/** The breaker's own work on a closed breaker, per call: a view, admit() and report(). */
async function bookkeeping(env: Env, url: URL) {
  const reps = intParam(url, "reps", 10_000, 1_000_000);
  const { defer, settle } = deferrals();
  const deps = callDeps(env, defer);
  const breaker = breakerName(deps.team, deps.registry.resolve(url.searchParams.get("model") ?? "flash"));
  const start = performance.now();
  for (let i = 0; i < reps; i++) {
    const breakers = new ProviderBreakers(deps);
    const admission = await breakers.admit(breaker);
    if (!admission.admitted) throw new Error("the breaker is not closed");
    breakers.report(breaker, "reply", admission.probe);
  }
  const meanMs = (performance.now() - start) / reps;
  await settle();
  return { reps, meanMs };
}

/** `namespace`, with every method call on its stubs (one Durable Object request each) counted by method name. */
function countingNamespace<N extends DurableObjectNamespace>(namespace: N, counts: Record<string, number>): N {
  return new Proxy(namespace, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (property !== "getByName" || typeof value !== "function") return typeof value === "function" ? value.bind(target) : value;
      return (...args: unknown[]) => {
        const stub = (value as (...a: unknown[]) => object).apply(target, args);
        return new Proxy(stub, {
          get(stubTarget, method) {
            const member = Reflect.get(stubTarget, method, stubTarget) as unknown;
            if (typeof member !== "function" || typeof method !== "string") return member;
            return (...callArgs: unknown[]) => {
              counts[method] = (counts[method] ?? 0) + 1;
              return (member as (...a: unknown[]) => unknown).apply(stubTarget, callArgs);
            };
          },
        });
      };
    },
  });
}

/**
 * The breaker's Durable Object requests on the happy path while the isolate's cached breaker state
 * is fresh: on an env whose BREAKERS namespace counts the method calls on its stubs (a fresh env
 * is a fresh breaker view: the isolate's first look), one call first loads the state and reports
 * the provider's first reply (counted apart), then `calls` calls are counted. All of them must end
 * within BREAKER_CACHE_TTL_MS of the first call's start (every state stored since is younger), or
 * the count is refused: a background refresh would then be due, and counted.
 */
async function breakerRequests(env: Env, url: URL) {
  const model = url.searchParams.get("model") ?? "flash";
  const calls = intParam(url, "calls", 20, 200);
  const counts: Record<string, number> = {};
  const countingEnv: Env = { ...env, BREAKERS: countingNamespace(env.BREAKERS, counts) };
  const { defer, settle } = deferrals();
  const deps = callDeps(countingEnv, defer);
  const choice = { requested: model, category: "fast_response" } as const;
  const started = Date.now();
  await chooseAndCall(deps, choice, REQUEST);
  await settle();
  const warmUp = { ...counts };
  for (const method of Object.keys(counts)) delete counts[method];
  for (let i = 0; i < calls; i++) {
    const { response } = await chooseAndCall(deps, choice, REQUEST);
    if (!response.text) throw new Error("empty answer");
  }
  const elapsedMs = Date.now() - started;
  await settle();
  if (elapsedMs >= BREAKER_CACHE_TTL_MS) {
    throw new Error(`the ${calls} calls ended ${elapsedMs} ms after the first, past the cached state's ${BREAKER_CACHE_TTL_MS} ms: count on a quieter machine or with fewer calls`);
  }
  return { calls, elapsedMs, warmUp, counted: counts };
}

const TURNS: NewTurn[] = [
  { role: "user", content: "What is the weather on Mars?", files: [], images: [], tool: "chat" },
  { role: "assistant", content: "Cold and dusty.", files: [], images: [], tool: "chat", provider: "google", model: "gemini-2.5-flash" },
];

/** A legacy-era tools/call as a client sends it (the Host header too: agents' handler checks it on a loopback URL). */
function mcpRequest(name: string, args: Record<string, unknown>): Request {
  return new Request("http://127.0.0.1/mcp", {
    method: "POST",
    headers: { host: "127.0.0.1", "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } }),
  });
}

/**
 * The parts of a chat call, each timed as the mean of a loop of `reps`: the whole MCP request for
 * chat and for version (handleMcpRequest, response body read to the end), the chat tool without
 * the MCP transport (runTool), its argument check alone, callModel, a new thread
 * (createThread: a new Durable Object), the first read of a new thread's object (its creation and
 * schema alone), the first call to a new breaker object (an object without SQL tables), a turn appended to an existing thread, and the SDK Server constructor with its
 * default validator (an Ajv instance per server) and with one shared validator. Work deferred
 * with waitUntil (the team index write) is awaited between iterations, outside the timing, and
 * timed on its own.
 */
async function attribution(env: Env, url: URL) {
  const reps = intParam(url, "reps", 30, 1_000);
  const { defer, settle } = deferrals();
  const config = configOf(env);
  const registry = registryFor(env);
  const deps = { env, config, registry, team: "bench", workspace: "bench", requestId: "bench", waitUntil: defer };
  const deferredMs: Record<string, number> = {};
  const timeLoop = async (label: string, work: (i: number) => Promise<unknown> | unknown, count = reps): Promise<number> => {
    await work(-1); // warm
    await settle();
    let timed = 0;
    let deferred = 0;
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      await work(i);
      const done = performance.now();
      await settle();
      timed += done - start;
      deferred += performance.now() - done;
    }
    deferredMs[label] = deferred / count;
    return timed / count;
  };
  const mcp = async (name: string, args: Record<string, unknown>) => {
    const response = await handleMcpRequest(mcpRequest(name, args), { ...deps, tokenDigest: undefined });
    const text = await response.text();
    if (!text.includes('"result"') || text.includes('"isError":true')) throw new Error(`${name}: ${text.slice(0, 300)}`);
  };
  const limits = limitsOf(config);
  // A new thread's creation and its first exchange: the append queues behind the creation.
  const newThread = async () => {
    const writer = ThreadWriter.starting({ ...deps, team: "bench" }, { creatorTool: "chat", initialContext: {}, title: "bench" });
    await writer.commit(TURNS, []);
    return env.CONVERSATIONS.getByName(`bench:${writer.threadId}`);
  };
  const thread = await newThread();
  await settle();
  const shared = new AjvJsonSchemaValidator();
  const description = modelFieldDescription(config, registry);
  const chatArgs = { prompt: "Say something short.", model: "flash" };
  // No model-call limit in this loop: the charge is measured with the whole request (mcpChat).
  const toolContext = { ...deps, signal: new AbortController().signal, progress: async () => undefined, beforeModelCall: async () => undefined, modelDescription: description };
  const info = { name: "bench", version: "1" };
  const capabilities = { capabilities: { tools: {}, prompts: {}, logging: {} } };
  const ms = {
    mcpChat: await timeLoop("mcpChat", () => mcp("chat", { prompt: "Say something short.", model: "flash" })),
    mcpVersion: await timeLoop("mcpVersion", () => mcp("version", {})),
    runToolChat: await timeLoop("runToolChat", async () => {
      const result = await runTool(chat as unknown as ToolCard, chatArgs, toolContext);
      if (result.isError) throw new Error(JSON.stringify(result.content).slice(0, 300));
    }),
    argumentParse: await timeLoop("argumentParse", () => argumentSchema(chat as unknown as ToolCard, description).safeParse(chatArgs), reps * 10),
    callModel: await timeLoop("callModel", () => chooseAndCall(deps, { requested: "flash", category: "fast_response" }, REQUEST, { onProgress: () => undefined })),
    createThread: await timeLoop("createThread", newThread),
    newObjectRead: await timeLoop("newObjectRead", () => env.CONVERSATIONS.getByName(`bench:${crypto.randomUUID()}`).read()),
    newBreakerObject: await timeLoop("newBreakerObject", () =>
      env.BREAKERS.getByName(`bench-${crypto.randomUUID()}`).state({ failureThreshold: 5, cooldownMs: 30_000, probeLeaseMs: 600_000 }),
    ),
    appendTurns: await timeLoop("appendTurns", () => thread.appendTurns(TURNS, limits, []), Math.min(reps, Math.floor((config.maxConversationTurns - 4) / 2) - 1)),
    serverDefaultValidator: await timeLoop("serverDefaultValidator", () => new Server(info, capabilities), reps * 10),
    serverSharedValidator: await timeLoop("serverSharedValidator", () => new Server(info, { ...capabilities, jsonSchemaValidator: shared }), reps * 10),
  };
  return { reps, ms, deferredMs };
}

/** Mean milliseconds of `work` over `reps` runs, timed as one loop. */
async function meanMs(reps: number, work: () => unknown): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < reps; i++) await work();
  return (performance.now() - start) / reps;
}

/**
 * The model catalog's costs: refreshed from `source` into KV (its stored size), then what a
 * request pays on the hot path (loading the isolate's copy and getting the env's registry, both
 * warm), a model lookup with the full catalog and without any, what an isolate pays once a minute
 * (reading KV) and once per catalog (rebuilding its registry).
 */
async function catalogCosts(env: Env, url: URL) {
  const source = url.searchParams.get("source");
  if (!source) throw new Error("source=<catalog URL> is required");
  const reps = intParam(url, "reps", 2_000, 100_000);
  // workerd's clock moves in whole milliseconds: the cheap steps loop long enough to be seen, the dear ones less.
  const cheap = reps * 50;
  const dear = Math.max(1, Math.floor(reps / 10));
  const attempt = await refreshCatalog(env, source);
  if (!attempt.ok) throw new Error(attempt.error);
  const stored = (await env.CACHE.get(CATALOG_KEY, "text")) ?? "";
  const { catalog } = await loadCatalog(env);
  if (!catalog) throw new Error("the refreshed catalog did not load");
  const config = configOf(env);
  const build = (withCatalog: boolean) =>
    new ModelRegistry(config, parseProviders(env, { catalog: withCatalog ? catalog : null, overrides: config.modelOverrides }), withCatalog ? catalog : null);
  const withCatalog = build(true);
  const without = build(false);
  const catalogModel = withCatalog.modelsOf("openai").find((m) => m.catalogOnly)?.modelName;
  if (!catalogModel) throw new Error("the catalog holds no OpenAI model: configure OPENAI_API_KEY and publish openai/ entries");
  // Shipped names, found by both registries; then a name only the catalog lists, and one in no catalog (passed through).
  const lookups = ["flash", "gpt-5", "o3-mini"];
  const resolveAll = (registry: ModelRegistry) => () => lookups.forEach((name) => registry.resolve(name));
  registryFor(env);

  // The whole MCP chat request (flash, a new thread) on the registry with the catalog and without,
  // in alternating blocks (ABBA): the process noise of two workers over loopback left out.
  const { defer, settle } = deferrals();
  const chatOn = async (registry: ModelRegistry) => {
    const deps = { env, config, registry, team: "bench", workspace: "bench", requestId: "bench", waitUntil: defer, tokenDigest: undefined };
    const text = await (await handleMcpRequest(mcpRequest("chat", { prompt: "Say something short.", model: "flash" }), deps)).text();
    if (!text.includes('"result"') || text.includes('"isError":true')) throw new Error(`chat: ${text.slice(0, 300)}`);
  };
  const block = 10;
  const chatMs: { withCatalog: number[]; without: number[] } = { withCatalog: [], without: [] };
  await chatOn(withCatalog);
  await chatOn(without);
  for (let i = 0; i < Math.max(4, Math.floor(reps / 250)); i++) {
    for (const side of i % 2 === 0 ? (["withCatalog", "without"] as const) : (["without", "withCatalog"] as const)) {
      const start = performance.now();
      for (let j = 0; j < block; j++) await chatOn(side === "withCatalog" ? withCatalog : without);
      chatMs[side].push((performance.now() - start) / block);
      await settle();
    }
  }
  return {
    chatMs,
    entries: catalog.entries.length,
    kvBytes: new TextEncoder().encode(stored).byteLength,
    modelsWithCatalog: withCatalog.available().length,
    modelsWithout: without.available().length,
    lookups,
    catalogModel,
    ms: {
      perRequest: await meanMs(cheap, async () => {
        await loadCatalog(env);
        registryFor(env);
      }),
      resolveWithCatalog: (await meanMs(cheap, resolveAll(withCatalog))) / lookups.length,
      resolveWithout: (await meanMs(cheap, resolveAll(without))) / lookups.length,
      resolveCatalogModel: await meanMs(cheap, () => withCatalog.resolve(catalogModel)),
      resolvePassedThrough: await meanMs(reps, () => without.resolve(catalogModel)),
      kvRead: await meanMs(dear, async () => {
        forgetCatalogCopy();
        await loadCatalog(env);
      }),
      rebuildWithCatalog: await meanMs(dear, () => build(true)),
      rebuildWithout: await meanMs(dear, () => build(false)),
    },
  };
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    try {
      switch (url.pathname) {
        case "/health":
          return Response.json({ ok: true });
        case "/clock":
          return Response.json(clock(url));
        case "/tools-list":
          return Response.json(await toolsList(env, url));
        case "/token-estimate":
          return Response.json(await tokenEstimate(env, url));
        case "/breaker/open":
          return Response.json(await openBreaker(env, url));
        case "/breaker/fail-fast":
          return Response.json(await failFast(env, url));
        case "/breaker/happy":
          return Response.json(await happy(env, url));
        case "/breaker/bookkeeping":
          return Response.json(await bookkeeping(env, url));
        case "/breaker/requests":
          return Response.json(await breakerRequests(env, url));
        case "/attribution":
          return Response.json(await attribution(env, url));
        case "/catalog":
          return Response.json(await catalogCosts(env, url));
        default:
          return Response.json({ error: "not_found" }, { status: 404 });
      }
    } catch (error) {
      return Response.json({ error: String(error), stack: (error as Error)?.stack }, { status: 500 });
    }
  },
} satisfies ExportedHandler<Env>;
