/**
 * Fake LLM upstream for tests and benchmarks: a plain node:http server that speaks enough of
 * the OpenAI Chat Completions, OpenAI Responses, Gemini generateContent and Anthropic Messages
 * APIs (unary and SSE streaming) for the worker's provider clients, plus fault injection, latency, fixture replay
 * and a request log. See README.md next to this file.
 *
 * Routes are matched by path SUFFIX, so any base URL works (`/v1`, `/api/v1`,
 * `/openai/deployments/<name>`, `/v1beta`); the query string is ignored for routing.
 *   POST …/chat/completions                          → kind "openai-chat"
 *   POST …/responses                                 → kind "openai-responses"
 *   POST …/models/<model>:generateContent            → kind "gemini"
 *   POST …/models/<model>:streamGenerateContent      → kind "gemini", SSE (as with ?alt=sse)
 *   POST …/v1/messages                               → kind "anthropic"
 *   GET  …/api/v1/models                             → the model catalog set with setCatalog (404 until set)
 *
 * In-process API:
 *   const up = await startFakeUpstream();          // 127.0.0.1, free port
 *   up.url                                         // "http://127.0.0.1:PORT" (no trailing path)
 *   up.fault({ status: 429, retryAfter: 2, kind: "gemini", times: 1 })
 *   up.setLatency({ firstByteMs: 2000, chunkDelayMs: 50 })
 *   up.replay("openai/chat_gpt5_moon_distance")
 *   up.requests(); up.clearRequests(); up.clearFaults(); up.inFlight(); up.reset(); await up.close();
 *
 * HTTP control API on the same port (for a server run as a separate process):
 *   GET    /__control/health             → {ok:true, inFlight}
 *   GET    /__control/requests           → RecordedRequest[]
 *   DELETE /__control/requests           → clear the log
 *   POST   /__control/faults             ← Fault | Fault[] (times: number | "always")
 *   DELETE /__control/faults             → clear queued faults
 *   POST   /__control/latency            ← Latency
 *   POST   /__control/replay             ← {name, times?}
 *   POST   /__control/catalog            ← CatalogAnswer
 *   GET    /__control/fixtures           → fixture names
 *   POST   /__control/reset              → clear faults, latency, replays and the log
 *
 * CLI: `node test/fake-upstream/server.ts [--port N] [--host H]` prints
 * `fake-upstream listening on http://127.0.0.1:PORT` and exits cleanly on SIGTERM/SIGINT.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { listFixtures, loadFixture, type FixtureInteraction } from "./fixtures.ts";

export { listFixtures, loadFixture } from "./fixtures.ts";
export type { FixtureInteraction } from "./fixtures.ts";

export type RouteKind = "openai-chat" | "openai-responses" | "gemini" | "anthropic";

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lowercased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Parsed JSON, raw text if not JSON, null if empty. */
  body: unknown;
  kind: RouteKind | "unknown";
  model: string | null;
  stream: boolean;
  /** Date.now() when the request body had been read. */
  receivedAt: number;
}

/**
 * One queued fault, consumed by the first request it matches (`kind`/`model` filters), `times`
 * times (default 1; `Infinity` or "always" = until clearFaults/reset). Fields combine: `delayMs`
 * is waited first, then the first present of reset > hang > status > malformed > emptyText/replyText >
 * safetyBlock decides the answer; `truncate` or `endEarly` cuts whatever body is then sent (a replay included).
 */
export interface Fault {
  kind?: RouteKind;
  model?: string;
  /** Only requests whose raw body contains this text (a marker in a prompt): concurrent tests each fault their own calls. */
  bodyIncludes?: string;
  times?: number | "always";
  /** Answer with this status; `body` defaults to a vendor-shaped error JSON. */
  status?: number;
  body?: string;
  /** Seconds, sent as the Retry-After header. */
  retryAfter?: number;
  /** Extra wait before the response headers (on top of the global latency). */
  delayMs?: number;
  /** 200 with invalid JSON, or SSE whose data lines are not JSON. */
  malformed?: boolean;
  /** Send part of the body/stream, then destroy the socket (no final chunk, no [DONE]). */
  truncate?: boolean;
  /** Send half the SSE events (or half a plain body, without Content-Length), then end the response cleanly. */
  endEarly?: boolean;
  /** Destroy the socket (TCP RST) without any response. */
  reset?: boolean;
  /** Never answer; the request ends when the client aborts (or the server closes). */
  hang?: boolean;
  /** A normal, successful finish with empty content. */
  emptyText?: boolean;
  /** A normal, successful answer with this text (a scripted reply, e.g. an expert's JSON). */
  replyText?: string;
  /** Gemini: finishReason SAFETY, no text. OpenAI: finish_reason content_filter, null content. Anthropic: stop_reason refusal. */
  safetyBlock?: boolean;
}

/**
 * What `GET …/api/v1/models` answers: a catalog in OpenRouter's shape (`{"data": models}`), or a fault:
 * a body that is not JSON, a JSON body of about `hugeBytes` streamed without Content-Length, a
 * status, no answer at all, or a reset connection.
 */
export type CatalogAnswer =
  | { models: unknown[] }
  | { malformed: true }
  | { hugeBytes: number }
  | { status: number }
  | { hang: true }
  | { reset: true };

export interface Latency {
  /** Wait before sending response headers, for every upstream request. */
  firstByteMs?: number;
  /** Wait between SSE events of a streamed response. */
  chunkDelayMs?: number;
}

export interface FakeUpstream {
  /** "http://127.0.0.1:PORT", without a trailing slash or path. */
  url: string;
  port: number;
  close(): Promise<void>;
  /** A copy of the request log, oldest first (control requests are not logged). */
  requests(): RecordedRequest[];
  clearRequests(): void;
  fault(f: Fault | Fault[]): void;
  clearFaults(): void;
  setLatency(l: Latency): void;
  /**
   * The next request(s) of the fixture's route kind get its recorded response bodies verbatim,
   * consecutive requests getting consecutive interactions (wrapping around). `times` defaults to
   * the number of recorded interactions; `Infinity`/"always" keeps replaying.
   */
  replay(name: string, opts?: { times?: number | "always" }): void;
  /** What `GET …/api/v1/models` answers from now on (the model catalog the worker's cron reads). */
  setCatalog(answer: CatalogAnswer): void;
  /** Clears faults, latency, replays and the request log. */
  reset(): void;
  /**
   * Upstream requests received and not yet finished (answered, aborted by the client, or
   * destroyed). Lets a test check that a cancelled call really released its upstream socket.
   */
  inFlight(): number;
}

export interface StartOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1; the server is meant for loopback only. */
  host?: string;
  /** Oldest entries are dropped beyond this many logged requests (default 10 000). */
  maxLoggedRequests?: number;
}

const MAX_BODY_BYTES = 50 * 1024 * 1024;
const STREAM_PIECES = 5;

interface QueuedFault {
  fault: Fault;
  remaining: number;
}

interface QueuedReplay {
  name: string;
  kind: RouteKind;
  interactions: FixtureInteraction[];
  next: number;
  remaining: number;
}

interface Route {
  kind: RouteKind | "unknown";
  model: string | null;
  stream: boolean;
}

/** What to send: status, headers, and the body as a list of pieces (one per SSE event). */
interface Plan {
  status: number;
  headers: Record<string, string>;
  chunks: string[];
  streaming: boolean;
}

/** How the generated answer ends: some text (possibly empty), or a safety/content-filter block. */
type Outcome = { type: "text"; text: string } | { type: "safety" };

export async function startFakeUpstream(opts: StartOptions = {}): Promise<FakeUpstream> {
  const maxLogged = opts.maxLoggedRequests ?? 10_000;
  let log: RecordedRequest[] = [];
  let faults: QueuedFault[] = [];
  let replays: QueuedReplay[] = [];
  let latency: Required<Latency> = { firstByteMs: 0, chunkDelayMs: 0 };
  let catalog: CatalogAnswer | undefined;
  let idCounter = 0;
  let inFlight = 0;

  const api = {
    requests: (): RecordedRequest[] => log.slice(),
    inFlight: (): number => inFlight,
    clearRequests: (): void => {
      log = [];
    },
    fault: (f: Fault | Fault[]): void => {
      for (const one of Array.isArray(f) ? f : [f]) faults.push({ fault: one, remaining: countOf(one.times, 1) });
    },
    clearFaults: (): void => {
      faults = [];
    },
    setLatency: (l: Latency): void => {
      latency = { firstByteMs: l.firstByteMs ?? 0, chunkDelayMs: l.chunkDelayMs ?? 0 };
    },
    replay: (name: string, o: { times?: number | "always" } = {}): void => {
      const interactions = loadFixture(name);
      const first = interactions[0];
      if (!first) throw new Error(`fixture ${name} has no interactions`);
      const kind = classify(first.request.path, first.request.body).kind;
      if (kind === "unknown") throw new Error(`fixture ${name}: unroutable path ${first.request.path}`);
      replays.push({ name, kind, interactions, next: 0, remaining: countOf(o.times, interactions.length) });
    },
    setCatalog: (answer: CatalogAnswer): void => {
      catalog = answer;
    },
    reset: (): void => {
      log = [];
      faults = [];
      replays = [];
      latency = { firstByteMs: 0, chunkDelayMs: 0 };
    },
  };

  function takeFault(route: Route, rawBody: string): Fault | undefined {
    const i = faults.findIndex(
      (q) =>
        (q.fault.kind === undefined || q.fault.kind === route.kind) &&
        (q.fault.model === undefined || q.fault.model === route.model) &&
        (q.fault.bodyIncludes === undefined || rawBody.includes(q.fault.bodyIncludes)),
    );
    const q = faults[i];
    if (!q) return undefined;
    if (--q.remaining <= 0) faults.splice(i, 1);
    return q.fault;
  }

  function takeReplay(route: Route): FixtureInteraction | undefined {
    const i = replays.findIndex((r) => r.kind === route.kind);
    const r = replays[i];
    if (!r) return undefined;
    const interaction = r.interactions[r.next % r.interactions.length];
    r.next++;
    if (--r.remaining <= 0) replays.splice(i, 1);
    return interaction;
  }

  async function handleUpstream(req: IncomingMessage, res: ServerResponse, url: URL, raw: Buffer, signal: AbortSignal): Promise<void> {
    const body = decodeBody(raw);
    const route = classify(url.pathname, body);
    log.push({
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: lowerHeaders(req),
      body,
      kind: route.kind,
      model: route.model,
      stream: route.stream,
      receivedAt: Date.now(),
    });
    if (log.length > maxLogged) log.splice(0, log.length - maxLogged);

    if (route.kind === "unknown") {
      sendJson(res, 404, { error: { message: `fake upstream: no route for ${req.method} ${url.pathname}`, type: "not_found" } });
      return;
    }
    const kind = route.kind;
    const model = route.model ?? "unknown-model";
    const fault = takeFault(route, raw.toString("utf8"));

    if (fault?.delayMs && !(await wait(fault.delayMs, signal))) return;
    if (fault?.reset) {
      req.socket.resetAndDestroy();
      return;
    }
    if (fault?.hang) {
      // Nothing is sent; the handler finishes when the client aborts or close() drops the socket.
      if (!signal.aborted) await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      return;
    }

    const ids = { n: ++idCounter, created: Math.floor(Date.now() / 1000) };
    let plan: Plan;
    if (fault?.status !== undefined) {
      plan = errorPlan(kind, fault.status, fault.body, fault.retryAfter);
    } else if (fault?.malformed) {
      plan = malformedPlan(kind, route.stream);
    } else if (fault?.emptyText || fault?.replyText !== undefined) {
      plan = generatedPlan(kind, model, route.stream, body, { type: "text", text: fault.replyText ?? "" }, ids);
    } else if (fault?.safetyBlock) {
      plan = generatedPlan(kind, model, route.stream, body, { type: "safety" }, ids);
    } else {
      const replayed = takeReplay(route);
      plan = replayed
        ? replayPlan(replayed)
        : generatedPlan(kind, model, route.stream, body, { type: "text", text: defaultReply(kind, model, body) }, ids);
    }
    await sendPlan(res, plan, latency, fault?.truncate ? "destroy" : fault?.endEarly ? "end" : undefined, signal);
  }

  function handleControl(req: IncomingMessage, res: ServerResponse, path: string, raw: Buffer): void {
    const route = `${req.method} ${path.slice("/__control".length)}`;
    try {
      const body = decodeBody(raw);
      switch (route) {
        case "GET /health":
          return sendJson(res, 200, { ok: true, inFlight });
        case "GET /requests":
          return sendJson(res, 200, api.requests());
        case "DELETE /requests":
          api.clearRequests();
          return sendJson(res, 200, { ok: true });
        case "POST /faults": {
          const list = Array.isArray(body) ? body : [body];
          if (!list.every(isRecord)) throw new Error("expected a Fault object or an array of them");
          api.fault(list as Fault[]);
          return sendJson(res, 200, { ok: true, queued: list.length });
        }
        case "DELETE /faults":
          api.clearFaults();
          return sendJson(res, 200, { ok: true });
        case "POST /latency":
          if (!isRecord(body)) throw new Error("expected {firstByteMs?, chunkDelayMs?}");
          api.setLatency(body as Latency);
          return sendJson(res, 200, { ok: true });
        case "POST /replay": {
          if (!isRecord(body) || typeof body["name"] !== "string") throw new Error("expected {name, times?}");
          const times = body["times"];
          api.replay(body["name"], times === "always" || typeof times === "number" ? { times } : {});
          return sendJson(res, 200, { ok: true });
        }
        case "POST /catalog":
          if (!isRecord(body)) throw new Error("expected a CatalogAnswer object");
          api.setCatalog(body as CatalogAnswer);
          return sendJson(res, 200, { ok: true });
        case "GET /fixtures":
          return sendJson(res, 200, listFixtures());
        case "POST /reset":
          api.reset();
          return sendJson(res, 200, { ok: true });
        default:
          return sendJson(res, 404, { error: `unknown control route ${route}` });
      }
    } catch (err) {
      sendJson(res, 400, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  const server = createServer(async (req, res) => {
    // Aborted when the response finishes or the client goes away, so no timer outlives its socket.
    const ac = new AbortController();
    res.once("close", () => ac.abort());
    try {
      const url = new URL(req.url ?? "/", "http://fake-upstream.invalid");
      const raw = await readBody(req, MAX_BODY_BYTES);
      if (raw === null) {
        res.setHeader("connection", "close");
        sendJson(res, 413, { error: { message: `request body over ${MAX_BODY_BYTES} bytes` } });
        return;
      }
      if (url.pathname.startsWith("/__control/")) {
        handleControl(req, res, url.pathname, raw);
        return;
      }
      // OpenRouter's path, so that other GETs (…/v1/models) stay unknown routes.
      if (req.method === "GET" && url.pathname.endsWith("/api/v1/models")) {
        await answerCatalog(req, res, catalog, ac.signal);
        return;
      }
      inFlight++;
      try {
        await handleUpstream(req, res, url, raw, ac.signal);
      } finally {
        inFlight--;
      }
    } catch (err) {
      // Client-side aborts surface here as stream errors; anything else is a bug worth a 500.
      if (!res.headersSent && !res.destroyed) sendJson(res, 500, { error: { message: String(err) } });
      else res.destroy();
    }
  });
  // Benchmarks hold 1000+ slow requests open at once: maxConnections is unlimited by default;
  // keep idle keep-alive sockets longer than typical client pools do, and never time out a
  // request that is slow on purpose (hang, large bodies).
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;

  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // A deep accept backlog so a burst of simultaneous connects is not refused.
    server.listen({ port: opts.port ?? 0, host, backlog: 4096 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Hung and keep-alive connections would otherwise keep close() waiting forever.
        server.closeAllConnections();
      }),
    ...api,
  };
}

// ---------------------------------------------------------------------------------------------
// The model catalog

async function answerCatalog(req: IncomingMessage, res: ServerResponse, answer: CatalogAnswer | undefined, signal: AbortSignal): Promise<void> {
  if (answer === undefined) return sendJson(res, 404, { error: { message: "fake upstream: no catalog set (setCatalog)" } });
  if ("models" in answer) return sendJson(res, 200, { data: answer.models });
  if ("malformed" in answer) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"data": [{"id": "openai/gpt-');
    return;
  }
  if ("status" in answer) return sendJson(res, answer.status, { error: { message: `fake upstream: catalog status ${answer.status}` } });
  if ("reset" in answer) {
    req.socket.resetAndDestroy();
    return;
  }
  if ("hang" in answer) {
    if (!signal.aborted) await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    return;
  }
  // Chunked, so only counting the bytes as they arrive can stop it.
  res.writeHead(200, { "content-type": "application/json" });
  const entry = JSON.stringify({ id: "vendor/padding-model", context_length: 8192, pricing: { prompt: "0", completion: "0" }, description: "x".repeat(900) });
  res.write('{"data": [');
  for (let sent = 0; sent < answer.hugeBytes && !signal.aborted; sent += entry.length + 1) {
    // The signal aborts when the client goes away: then no drain comes.
    if (!res.write(`${entry},`)) await once(res, "drain", { signal }).catch(() => undefined);
  }
  res.end(`${entry}]}`);
}

// ---------------------------------------------------------------------------------------------
// Routing and request digest

export function classify(path: string, body: unknown): Route {
  const b = isRecord(body) ? body : {};
  const bodyModel = typeof b["model"] === "string" ? b["model"] : null;
  if (path.endsWith("/chat/completions")) {
    // Azure/DIAL put the deployment in the path and often omit body.model.
    const deployment = /\/deployments\/([^/]+)\/chat\/completions$/.exec(path)?.[1];
    const model = bodyModel ?? (deployment !== undefined ? decodeURIComponent(deployment) : null);
    return { kind: "openai-chat", model, stream: b["stream"] === true };
  }
  if (path.endsWith("/responses")) {
    const deployment = /\/deployments\/([^/]+)\/responses$/.exec(path)?.[1];
    const model = bodyModel ?? (deployment !== undefined ? decodeURIComponent(deployment) : null);
    return { kind: "openai-responses", model, stream: b["stream"] === true };
  }
  if (path.endsWith("/v1/messages")) return { kind: "anthropic", model: bodyModel, stream: b["stream"] === true };
  const gemini = /\/models\/([^/]+):(generateContent|streamGenerateContent)$/.exec(path);
  if (gemini?.[1] !== undefined) {
    return { kind: "gemini", model: decodeURIComponent(gemini[1]), stream: gemini[2] === "streamGenerateContent" };
  }
  return { kind: "unknown", model: bodyModel, stream: false };
}

interface Message {
  role: string;
  text: string;
}

/** The request's messages as (role, text) pairs, system/instructions included. */
function messagesOf(kind: RouteKind, body: unknown): Message[] {
  const b = isRecord(body) ? body : {};
  const out: Message[] = [];
  if (kind === "openai-chat") {
    for (const m of asArray(b["messages"])) {
      if (isRecord(m)) out.push({ role: String(m["role"] ?? "user"), text: textOf(m["content"]) });
    }
  } else if (kind === "openai-responses") {
    if (typeof b["instructions"] === "string") out.push({ role: "system", text: b["instructions"] });
    const input = b["input"];
    if (typeof input === "string") out.push({ role: "user", text: input });
    for (const item of asArray(input)) {
      if (isRecord(item)) out.push({ role: String(item["role"] ?? "user"), text: textOf(item["content"]) });
    }
  } else if (kind === "anthropic") {
    if (b["system"] !== undefined) out.push({ role: "system", text: textOf(b["system"]) });
    for (const m of asArray(b["messages"])) {
      if (isRecord(m)) out.push({ role: String(m["role"] ?? "user"), text: textOf(m["content"]) });
    }
  } else {
    const sys = b["systemInstruction"] ?? b["system_instruction"];
    if (isRecord(sys)) out.push({ role: "system", text: textOf(sys["parts"]) });
    for (const c of asArray(b["contents"])) {
      if (isRecord(c)) out.push({ role: String(c["role"] ?? "user"), text: textOf(c["parts"]) });
    }
  }
  return out;
}

/** Text of a string, an array of parts ({text} / {type:"text",text} / {type:"input_text",text}), or a part. */
function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map(textOf).join("");
  if (isRecord(content) && typeof content["text"] === "string") return content["text"];
  return "";
}

function promptChars(kind: RouteKind, body: unknown): number {
  return messagesOf(kind, body).reduce((n, m) => n + m.text.length, 0);
}

/**
 * `fake:<model>: chars=<N> last="<tail>"`: N is the length of all text the request carried and
 * tail the last 80 characters of the last user message, whitespace collapsed, so a test can see
 * what the worker actually sent.
 */
export function defaultReply(kind: RouteKind, model: string, body: unknown): string {
  const messages = messagesOf(kind, body);
  const chars = messages.reduce((n, m) => n + m.text.length, 0);
  const lastUser = messages.filter((m) => m.role === "user").at(-1)?.text ?? "";
  const tail = lastUser.replace(/\s+/g, " ").trim().slice(-80);
  return `fake:${model}: chars=${chars} last="${tail}"`;
}

const tokens = (chars: number): number => Math.ceil(chars / 4);

/** ~STREAM_PIECES pieces, split on code points so no surrogate pair is cut. */
function pieces(text: string): string[] {
  const cps = Array.from(text);
  if (cps.length === 0) return [];
  const size = Math.ceil(cps.length / STREAM_PIECES);
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += size) out.push(cps.slice(i, i + size).join(""));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Response builders

const JSON_TYPE = "application/json";
const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };
const sseData = (obj: unknown): string => `data: ${JSON.stringify(obj)}\n\n`;
const sseEvent = (type: string, obj: unknown): string => `event: ${type}\ndata: ${JSON.stringify(obj)}\n\n`;

function jsonPlan(status: number, obj: unknown, extra: Record<string, string> = {}): Plan {
  return { status, headers: { "content-type": JSON_TYPE, ...extra }, chunks: [JSON.stringify(obj)], streaming: false };
}

function ssePlan(chunks: string[]): Plan {
  return { status: 200, headers: { ...SSE_HEADERS }, chunks, streaming: true };
}

function generatedPlan(
  kind: RouteKind,
  model: string,
  stream: boolean,
  body: unknown,
  outcome: Outcome,
  ids: { n: number; created: number },
): Plan {
  const promptTokens = tokens(promptChars(kind, body));
  const text = outcome.type === "text" ? outcome.text : "";
  const completionTokens = tokens(text.length);
  const b = isRecord(body) ? body : {};
  if (kind === "openai-chat") return openAIChat(model, stream, b, outcome, promptTokens, completionTokens, ids);
  if (kind === "openai-responses") return openAIResponses(model, stream, b, outcome, promptTokens, completionTokens, ids);
  if (kind === "anthropic") return anthropic(model, stream, b, outcome, promptTokens, completionTokens, ids);
  return gemini(model, stream, b, outcome, promptTokens, completionTokens, ids);
}

function openAIChat(
  model: string,
  stream: boolean,
  body: Record<string, unknown>,
  outcome: Outcome,
  promptTokens: number,
  completionTokens: number,
  ids: { n: number; created: number },
): Plan {
  const id = `chatcmpl-fake-${ids.n}`;
  const finishReason = outcome.type === "safety" ? "content_filter" : "stop";
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  if (!stream) {
    return jsonPlan(200, {
      id,
      object: "chat.completion",
      created: ids.created,
      model,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: outcome.type === "text" ? outcome.text : null, refusal: null },
          finish_reason: finishReason,
        },
      ],
      usage,
      system_fingerprint: null,
    });
  }
  const streamOptions = isRecord(body["stream_options"]) ? body["stream_options"] : {};
  const includeUsage = streamOptions["include_usage"] === true;
  // As upstream does: with include_usage every chunk carries `usage: null` until the last one.
  const chunk = (choices: unknown[], u: unknown = null): string =>
    sseData({
      id,
      object: "chat.completion.chunk",
      created: ids.created,
      model,
      system_fingerprint: null,
      choices,
      ...(includeUsage ? { usage: u } : {}),
    });
  const chunks = [chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }])];
  if (outcome.type === "text") {
    for (const p of pieces(outcome.text)) chunks.push(chunk([{ index: 0, delta: { content: p }, finish_reason: null }]));
  }
  chunks.push(chunk([{ index: 0, delta: {}, finish_reason: finishReason }]));
  if (includeUsage) chunks.push(chunk([], usage));
  chunks.push("data: [DONE]\n\n");
  return ssePlan(chunks);
}

function openAIResponses(
  model: string,
  stream: boolean,
  body: Record<string, unknown>,
  outcome: Outcome,
  promptTokens: number,
  completionTokens: number,
  ids: { n: number; created: number },
): Plan {
  const id = `resp_fake_${ids.n}`;
  const msgId = `msg_fake_${ids.n}`;
  // A reasoning item appears when the request asked for reasoning, as with o-series/GPT-5 models.
  const reasoning = isRecord(body["reasoning"]) ? { type: "reasoning", id: `rs_fake_${ids.n}`, summary: [] } : null;
  const reasoningTokens = reasoning ? 8 : 0;
  const text = outcome.type === "text" ? outcome.text : "";
  const message = {
    type: "message",
    id: msgId,
    status: "completed",
    role: "assistant",
    content: [{ type: "output_text", text, annotations: [] }],
  };
  const base = { id, object: "response", created_at: ids.created, model };
  const usage = {
    input_tokens: promptTokens,
    output_tokens: completionTokens + reasoningTokens,
    total_tokens: promptTokens + completionTokens + reasoningTokens,
    output_tokens_details: { reasoning_tokens: reasoningTokens },
  };
  const full =
    outcome.type === "safety"
      ? { ...base, status: "incomplete", incomplete_details: { reason: "content_filter" }, output: [], output_text: "", usage }
      : { ...base, status: "completed", output: reasoning ? [reasoning, message] : [message], output_text: text, usage };
  if (!stream) return jsonPlan(200, full);

  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>): string => sseEvent(type, { type, sequence_number: seq++, ...data });
  const chunks = [ev("response.created", { response: { ...base, status: "in_progress", output: [] } })];
  if (outcome.type === "safety") {
    chunks.push(ev("response.incomplete", { response: full }));
    return ssePlan(chunks);
  }
  const outputIndex = reasoning ? 1 : 0;
  if (reasoning) chunks.push(ev("response.output_item.done", { output_index: 0, item: reasoning }));
  chunks.push(ev("response.output_item.added", { output_index: outputIndex, item: { ...message, status: "in_progress", content: [] } }));
  for (const delta of pieces(text)) {
    chunks.push(ev("response.output_text.delta", { item_id: msgId, output_index: outputIndex, content_index: 0, delta }));
  }
  chunks.push(ev("response.output_text.done", { item_id: msgId, output_index: outputIndex, content_index: 0, text }));
  chunks.push(ev("response.output_item.done", { output_index: outputIndex, item: message }));
  chunks.push(ev("response.completed", { response: full }));
  return ssePlan(chunks);
}

function gemini(
  model: string,
  stream: boolean,
  body: Record<string, unknown>,
  outcome: Outcome,
  promptTokens: number,
  completionTokens: number,
  ids: { n: number; created: number },
): Plan {
  const genConfig = isRecord(body["generationConfig"]) ? body["generationConfig"] : {};
  const thinking = isRecord(genConfig["thinkingConfig"]) ? genConfig["thinkingConfig"] : null;
  // Thinking models report thought tokens unless the budget is explicitly 0.
  const thoughts = thinking && thinking["thinkingBudget"] !== 0 ? 8 : 0;
  const usageMetadata = {
    promptTokenCount: promptTokens,
    candidatesTokenCount: completionTokens,
    totalTokenCount: promptTokens + completionTokens + thoughts,
    ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
  };
  const common = { modelVersion: model, responseId: `fake-${ids.n}` };
  if (outcome.type === "safety") {
    const blocked = {
      candidates: [
        {
          finishReason: "SAFETY",
          index: 0,
          safetyRatings: [{ category: "HARM_CATEGORY_DANGEROUS_CONTENT", probability: "HIGH", blocked: true }],
        },
      ],
      usageMetadata: { promptTokenCount: promptTokens, totalTokenCount: promptTokens },
      ...common,
    };
    return stream ? ssePlan([sseData(blocked)]) : jsonPlan(200, blocked);
  }
  const candidate = (text: string, final: boolean): Record<string, unknown> => ({
    content: { role: "model", parts: [{ text }] },
    ...(final ? { finishReason: "STOP" } : {}),
    index: 0,
  });
  if (!stream) return jsonPlan(200, { candidates: [candidate(outcome.text, true)], usageMetadata, ...common });
  const parts = pieces(outcome.text);
  if (parts.length === 0) parts.push("");
  const chunks = parts.map((p, i) => {
    const final = i === parts.length - 1;
    return sseData({ candidates: [candidate(p, final)], ...(final ? { usageMetadata } : {}), ...common });
  });
  return ssePlan(chunks);
}

function anthropic(
  model: string,
  stream: boolean,
  body: Record<string, unknown>,
  outcome: Outcome,
  promptTokens: number,
  completionTokens: number,
  ids: { n: number; created: number },
): Plan {
  const id = `msg_fake_${ids.n}`;
  // With extended thinking on, a thinking block (billed as output) comes before the answer.
  const thinking = isRecord(body["thinking"]) && body["thinking"]["type"] === "enabled" ? "fake thinking, not the answer" : null;
  const outputTokens = completionTokens + (thinking ? tokens(thinking.length) : 0);
  const text = outcome.type === "text" ? outcome.text : "";
  const stopReason = outcome.type === "safety" ? "refusal" : "end_turn";
  const usage = { input_tokens: promptTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: outputTokens };
  const thinkingBlock = thinking ? [{ type: "thinking", thinking, signature: `sig_fake_${ids.n}` }] : [];
  const textBlock = outcome.type === "text" ? [{ type: "text", text }] : [];
  const base = { id, type: "message", role: "assistant", model };
  if (!stream) {
    return jsonPlan(200, { ...base, content: [...thinkingBlock, ...textBlock], stop_reason: stopReason, stop_sequence: null, usage });
  }
  const chunks = [
    sseEvent("message_start", {
      type: "message_start",
      message: { ...base, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
    }),
  ];
  let index = 0;
  if (thinking) {
    chunks.push(sseEvent("content_block_start", { type: "content_block_start", index, content_block: { type: "thinking", thinking: "", signature: "" } }));
    chunks.push(sseEvent("content_block_delta", { type: "content_block_delta", index, delta: { type: "thinking_delta", thinking } }));
    chunks.push(sseEvent("content_block_delta", { type: "content_block_delta", index, delta: { type: "signature_delta", signature: `sig_fake_${ids.n}` } }));
    chunks.push(sseEvent("content_block_stop", { type: "content_block_stop", index }));
    index++;
  }
  if (outcome.type === "text") {
    chunks.push(sseEvent("content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } }));
    chunks.push(sseEvent("ping", { type: "ping" }));
    for (const p of pieces(text)) chunks.push(sseEvent("content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: p } }));
    chunks.push(sseEvent("content_block_stop", { type: "content_block_stop", index }));
  }
  chunks.push(sseEvent("message_delta", { type: "message_delta", delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } }));
  chunks.push(sseEvent("message_stop", { type: "message_stop" }));
  return ssePlan(chunks);
}

/** Anthropic's error types by status (529: its API is overloaded). */
const ANTHROPIC_ERROR: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

const GOOGLE_STATUS: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

function errorPlan(kind: RouteKind, status: number, body: string | undefined, retryAfter: number | undefined): Plan {
  const message = `fake upstream error ${status}`;
  const vendorBody =
    kind === "gemini"
      ? { error: { code: status, message, status: GOOGLE_STATUS[status] ?? "UNKNOWN" } }
      : kind === "anthropic"
        ? { type: "error", error: { type: ANTHROPIC_ERROR[status] ?? "api_error", message } }
        : {
          error: {
            message,
            type: status === 429 ? "rate_limit_exceeded" : status >= 500 ? "server_error" : "invalid_request_error",
            param: null,
            code: null,
          },
        };
  const plan = jsonPlan(status, vendorBody, retryAfter !== undefined ? { "retry-after": String(retryAfter) } : {});
  if (body !== undefined) plan.chunks = [body];
  return plan;
}

function malformedPlan(kind: RouteKind, stream: boolean): Plan {
  const garbage = '{"id":"fake-malformed","choices":[{"message": <<not json';
  if (!stream) return { status: 200, headers: { "content-type": JSON_TYPE }, chunks: [garbage], streaming: false };
  const chunks =
    kind === "openai-responses"
      ? [`event: response.output_text.delta\ndata: ${garbage}\n\n`]
      : kind === "anthropic"
        ? [`event: content_block_delta\ndata: ${garbage}\n\n`]
        : [`data: ${garbage}\n\n`];
  if (kind === "openai-chat") chunks.push("data: [DONE]\n\n");
  return ssePlan(chunks);
}

function replayPlan(it: FixtureInteraction): Plan {
  const contentType = it.response.headers["content-type"] ?? JSON_TYPE;
  const streaming = contentType.startsWith("text/event-stream");
  // SSE bodies are split into their events so chunkDelayMs and truncate act per event.
  const chunks = streaming ? it.response.body.split(/(?<=\r?\n\r?\n)/) : [it.response.body];
  return { status: it.response.status, headers: { "content-type": contentType }, chunks, streaming };
}

// ---------------------------------------------------------------------------------------------
// I/O helpers

/** How a body is cut short: the socket destroyed mid-body, or the response ended cleanly after half of it. */
type Cut = "destroy" | "end" | undefined;

async function sendPlan(res: ServerResponse, plan: Plan, latency: Required<Latency>, cut: Cut, signal: AbortSignal): Promise<void> {
  if (!(await wait(latency.firstByteMs, signal))) return;
  if (!plan.streaming) {
    const buf = Buffer.from(plan.chunks.join(""), "utf8");
    if (cut === "end") {
      // No Content-Length: a clean end after half the body is all the client can see.
      res.writeHead(plan.status, plan.headers);
      res.end(buf.subarray(0, Math.floor(buf.length / 2)));
      return;
    }
    res.writeHead(plan.status, { ...plan.headers, "content-length": String(buf.length) });
    if (!cut) {
      res.end(buf);
      return;
    }
    // Content-Length promises the whole body, so the client sees a premature close.
    await write(res, buf.subarray(0, Math.floor(buf.length / 2)));
    res.destroy();
    return;
  }
  res.writeHead(plan.status, plan.headers);
  res.flushHeaders(); // first byte now, even if the first event is delayed
  const count = cut ? Math.max(1, Math.floor(plan.chunks.length / 2)) : plan.chunks.length;
  for (let i = 0; i < count; i++) {
    if (i > 0 && !(await wait(latency.chunkDelayMs, signal))) return;
    if (res.destroyed) return;
    await write(res, plan.chunks[i] ?? "");
  }
  if (cut === "destroy") res.destroy();
  else res.end();
}

/** Resolves once the data is handed to the socket (so a following destroy() does not drop it). */
function write(res: ServerResponse, data: string | Buffer): Promise<void> {
  return new Promise((resolve) => {
    res.write(data, () => resolve());
  });
}

/** Timer-based wait; false if the request was aborted meanwhile (the caller then gives up). */
async function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function sendJson(res: ServerResponse, status: number, obj: unknown): void {
  const buf = Buffer.from(JSON.stringify(obj), "utf8");
  res.writeHead(status, { "content-type": JSON_TYPE, "content-length": String(buf.length) });
  res.end(buf);
}

/**
 * The whole body, or null if it exceeds `limit` bytes. An oversized body is still drained (and
 * dropped) so the client, still uploading, reliably gets the 413 instead of a write error.
 */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size <= limit) parts.push(buf);
  }
  return size > limit ? null : Buffer.concat(parts);
}

function decodeBody(raw: Buffer): unknown {
  if (raw.length === 0) return null;
  const text = raw.toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function lowerHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

function countOf(times: number | "always" | undefined, fallback: number): number {
  if (times === "always") return Infinity;
  return times ?? fallback;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

// ---------------------------------------------------------------------------------------------
// CLI

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(invokedPath).href) {
  const { values } = parseArgs({
    options: { port: { type: "string", default: "0" }, host: { type: "string", default: "127.0.0.1" } },
  });
  const up = await startFakeUpstream({ port: Number(values.port), host: values.host });
  process.stdout.write(`fake-upstream listening on ${up.url}\n`);
  const stop = (): void => {
    up.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
