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
 *   /tools-list?mode=cold|kv|warm&reps=N         the project's listTools: a miss in both layers,
 *                                                a KV hit (in-isolate layer evicted), an in-isolate hit
 *   /breaker/open?model=flash                    fails calls (the upstream must answer 503) until open
 *   /breaker/fail-fast?model=flash&reps=N        callModel through the open breaker
 *   /breaker/happy?model=flash&blocks=N&block=M  callModel vs the provider module's generate, in timed blocks
 *   /breaker/bookkeeping?reps=N                  the breaker's own work per call on a closed breaker
 *   /attribution?reps=N                          where a chat call's time goes: the whole MCP request
 *                                                and its parts, each as the mean of a timed loop
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { configOf } from "../../src/config.ts";
import { limitsOf, ThreadWriter } from "../../src/conversation/threads.ts";
import type { NewTurn } from "../../src/conversation/types.ts";
import { runTool } from "../../src/mcp/run-tool.ts";
import { handleMcpRequest } from "../../src/mcp/server.ts";
import { argumentSchema } from "../../src/mcp/tool-schemas.ts";
import { chat } from "../../src/tools/chat.ts";
import type { ToolCard } from "../../src/tools/define.ts";
import type { Env } from "../../src/env.ts";
import { listTools, modelFieldDescription } from "../../src/mcp/tool-schemas.ts";
import { StreamFacts, blobFactsCache, blobInfo, blobStub, storeChunks } from "../../src/files/blob-store.ts";
import { breakerName, ProviderBreakers } from "../../src/providers/breaker.ts";
import { callModel, chooseModel } from "../../src/providers/call.ts";
import { providerModule } from "../../src/providers/index.ts";
import { registryFor } from "../../src/providers/registry.ts";
import { ProviderError, type CallDeps, type CallOptions, type CallResult, type ModelChoice, type ModelRequest } from "../../src/providers/types.ts";
import { enabledTools } from "../../src/tools/index.ts";

/** Chooses the model as a tool would, then calls it. */
async function chooseAndCall(deps: CallDeps, choice: ModelChoice, request: ModelRequest, options?: CallOptions): Promise<CallResult> {
  return callModel(deps, await chooseModel(deps, choice), request, options);
}


// The project's Durable Object classes (its default export, the Hono app, is not re-exported).
export * from "../../src/worker.ts";

/** The in-isolate LRU of the tools/list cache holds this many entries (src/mcp/tool-schemas.ts). */
const TOOLS_LIST_LRU_ENTRIES = 32;

const REQUEST: ModelRequest = { systemPrompt: "You are a benchmark.", prompt: "Say something short." };

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

/**
 * The project's listTools, timed per call (1 ms clock resolution) and over the whole loop (for
 * calls faster than the clock's resolution): `cold` misses both layers (a key never seen: a
 * fresh deploy or configuration), `kv` is served by KV (the in-isolate entry evicted first),
 * `warm` by the in-isolate layer.
 */
async function toolsList(env: Env, url: URL) {
  const mode = url.searchParams.get("mode") ?? "warm";
  const reps = intParam(url, "reps", 20, 10_000);
  const config = configOf(env);
  const tools = enabledTools(config);
  const description = modelFieldDescription(config, registryFor(config));
  const { defer, settle } = deferrals();
  const samples: number[] = [];
  let timedTotal = 0;
  if (mode === "warm") {
    await listTools(env.CACHE, tools, description, defer);
    await settle();
    const start = performance.now();
    for (let rep = 0; rep < reps; rep++) {
      const before = performance.now();
      const listed = await listTools(env.CACHE, tools, description, defer);
      samples.push(performance.now() - before);
      if (listed.length !== tools.length) throw new Error(`listTools returned ${listed.length} tools, expected ${tools.length}`);
    }
    timedTotal = performance.now() - start;
    await settle();
    return { mode, samples, meanMs: timedTotal / reps };
  }
  for (let rep = 0; rep < reps; rep++) {
    // A distinct description is a distinct cache key: a miss in both layers, as after a deploy.
    const key = `${description} [bench ${Date.now()}-${rep}-${Math.random()}]`;
    if (mode === "kv") {
      await listTools(env.CACHE, tools, key, defer);
      await settle();
      // Evict the entry from the in-isolate LRU so the next read is served by KV.
      for (let i = 0; i < TOOLS_LIST_LRU_ENTRIES; i++) await listTools(env.CACHE, tools, `${key} [evict ${i}]`, () => undefined);
    }
    const before = performance.now();
    const listed = await listTools(env.CACHE, tools, key, defer);
    const elapsed = performance.now() - before;
    samples.push(elapsed);
    timedTotal += elapsed;
    if (listed.length !== tools.length) throw new Error(`listTools returned ${listed.length} tools, expected ${tools.length}`);
    await settle();
  }
  return { mode, samples, meanMs: timedTotal / reps };
}

/**
 * The token estimate of a 1 MB uploaded file, as embedding reads it (blobInfo: the blob's facts,
 * counted once at upload, behind KV and the in-isolate LRU), per rep on a new blob: `cold` is the
 * first lookup (both layers empty: a read of the blob's object), `kv` the next after the isolate
 * layer is dropped, `warm` the one after that.
 */
async function tokenEstimate(env: Env, url: URL) {
  const reps = intParam(url, "reps", 10, 200);
  const { defer, settle } = deferrals();
  const samples = { cold: [] as number[], kv: [] as number[], warm: [] as number[] };
  for (let rep = 0; rep < reps; rep++) {
    const content = new TextEncoder().encode(`// ${Date.now()} ${rep} ${Math.random()}
${"const x = compute(y);\n".repeat(48_000)}`);
    const facts = new StreamFacts("text/plain");
    await facts.update(content);
    const { sha256, facts: blob } = await facts.finish();
    const stub = blobStub(env, "bench", sha256);
    const uploadId = crypto.randomUUID();
    const { maxBytes, teamQuotaBytes } = configOf(env).blobs;
    await stub.begin({ team: "bench", sha256, uploadId, size: content.length, maxBytes, mediaType: "text/plain", quotaBytes: teamQuotaBytes });
    const stored = await storeChunks(stub, uploadId, new Blob([content]).stream(), { firstChunk: 0, maxBytes: content.length });
    await stub.seal(uploadId);
    await stub.commit(uploadId, blob, stored.chunks);
    const timed = async (into: number[]) => {
      const before = performance.now();
      const info = await blobInfo(env, "bench", sha256, defer);
      into.push(performance.now() - before);
      if (info?.tokens !== blob.tokens) throw new Error("the cached token estimate differs from the upload's");
    };
    await timed(samples.cold);
    await settle();
    blobFactsCache.clearMemory();
    await timed(samples.kv);
    const loops = 1_000;
    const before = performance.now();
    for (let i = 0; i < loops; i++) await blobInfo(env, "bench", sha256, defer);
    samples.warm.push((performance.now() - before) / loops);
  }
  await settle();
  return { bytes: 1_000_000, samples };
}

function callDeps(env: Env, defer: (work: Promise<unknown>) => void) {
  const config = configOf(env);
  return { env, team: "bench", config, registry: registryFor(config), waitUntil: defer };
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

async function failFast(env: Env, url: URL) {
  const model = url.searchParams.get("model") ?? "flash";
  const reps = intParam(url, "reps", 200, 20_000);
  const { defer, settle } = deferrals();
  const deps = callDeps(env, defer);
  const samples: number[] = [];
  let wrongOutcomes = 0;
  const loopStart = performance.now();
  for (let rep = 0; rep < reps; rep++) {
    const start = performance.now();
    try {
      await chooseAndCall(deps, { requested: model, category: "fast_response" }, REQUEST);
      wrongOutcomes++;
    } catch (error) {
      if (!(error instanceof ProviderError) || error.kind !== "breaker_open") wrongOutcomes++;
    }
    samples.push(performance.now() - start);
  }
  const meanMs = (performance.now() - loopStart) / reps;
  await settle();
  return { samples, meanMs, wrongOutcomes };
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
  const { generate } = providerModule(resolved.provider.id);
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
    breakers.report(breaker, "success", admission.probe);
  }
  const meanMs = (performance.now() - start) / reps;
  await settle();
  return { reps, meanMs };
}

const TURNS: NewTurn[] = [
  { role: "user", content: "What is the weather on Mars?", files: [], images: [], tool: "chat" },
  { role: "assistant", content: "Cold and dusty.", files: [], images: [], tool: "chat", provider: "google", model: "gemini-2.5-flash" },
];

function mcpRequest(name: string, args: Record<string, unknown>): Request {
  return new Request("http://127.0.0.1/mcp", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25" },
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
  const registry = registryFor(config);
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
    const response = await handleMcpRequest(mcpRequest(name, args), deps);
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
  const toolContext = { ...deps, signal: new AbortController().signal, progress: async () => undefined, modelDescription: description };
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
        case "/attribution":
          return Response.json(await attribution(env, url));
        default:
          return Response.json({ error: "not_found" }, { status: 404 });
      }
    } catch (error) {
      return Response.json({ error: String(error), stack: (error as Error)?.stack }, { status: 500 });
    }
  },
} satisfies ExportedHandler<Env>;
