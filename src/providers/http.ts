import { createParser } from "eventsource-parser";
import type { CallPolicy, GenerateOptions, ProviderConfig } from "./descriptor";
import { ProviderError, type ProviderErrorKind } from "./types";

export interface UpstreamRequest {
  provider: ProviderConfig;
  url: string;
  /** Auth and vendor headers; Content-Type is added here. */
  headers: Record<string, string>;
  body: unknown;
}

export interface SseEvent {
  /** The `event:` field, "message" when absent. */
  event: string;
  data: string;
}

const DEFAULT_BASE_BACKOFF_MS = 1_000;
const DEFAULT_MAX_BACKOFF_MS = 8_000;
/** Enough of an error body for the upstream's message; the rest is cancelled unread. */
const ERROR_BODY_LIMIT = 16 * 1024;
const MESSAGE_LIMIT = 500;

/** POSTs JSON and parses the JSON answer, with retries; a body that is not JSON is retried. */
export function postJson<T>(request: UpstreamRequest, options: GenerateOptions, parse: (json: unknown) => T): Promise<T> {
  return withRetries(request.provider, options, async (signal) => {
    const response = await send(request, signal);
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ProviderError(request.provider.id, "retryable", `${request.provider.label} sent a malformed response (not JSON).`);
    }
    return parse(json);
  });
}

/**
 * POSTs JSON and hands the SSE answer to `consume`, with retries. The whole stream is read inside
 * the attempt, so a stream cut short or carrying garbage is retried like any other transient fault.
 */
export function postStream<T>(
  request: UpstreamRequest,
  options: GenerateOptions,
  consume: (events: AsyncIterable<SseEvent>) => Promise<T>,
): Promise<T> {
  return withRetries(request.provider, options, async (signal) => {
    const response = await send(request, signal);
    const body = response.body;
    if (!body) throw new ProviderError(request.provider.id, "retryable", `${request.provider.label} sent an empty stream.`);
    return consume(readSse(body));
  });
}

/** Parses JSON from an SSE data line; garbage is a transient upstream fault. */
export function parseEventData(provider: ProviderConfig, data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    throw new ProviderError(provider.id, "retryable", `${provider.label} sent a malformed stream event (not JSON).`);
  }
}

export function truncatedStream(provider: ProviderConfig): ProviderError {
  return new ProviderError(provider.id, "retryable", `${provider.label} ended the stream before the answer was complete.`);
}

async function send(request: UpstreamRequest, signal: AbortSignal): Promise<Response> {
  const response = await fetch(request.url, {
    method: "POST",
    headers: { ...request.headers, "content-type": "application/json" },
    body: JSON.stringify(request.body),
    signal,
  });
  if (response.ok) return response;
  throw await httpError(request, response);
}

class DeadlineExceeded extends Error {
  override name = "DeadlineExceeded";
}

/**
 * Runs `attempt` until it succeeds, fails finally, or the attempts or the deadline run out.
 * Every exception leaves as a ProviderError: the caller's abort as "aborted", the deadline as
 * "retryable" (the upstream was too slow), anything unexpected from the transport as "retryable".
 */
export async function withRetries<T>(provider: ProviderConfig, options: GenerateOptions, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { policy } = options;
  const caller = options.signal;
  const { id, label } = provider;
  if (caller?.aborted) throw new ProviderError(id, "aborted", `The call to ${label} was cancelled before it started.`);

  const deadlineAt = Date.now() + policy.deadlineMs;
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new DeadlineExceeded()), policy.deadlineMs);
  // The caller's signal joins the deadline's for the attempts only, and is let go when they end:
  // a signal of AbortSignal.any stays tied to the caller's, whose late abort (the MCP layer aborts
  // a finished call's signal when its response closes) would then run through every call made.
  const onCallerAbort = () => deadline.abort(caller?.reason);
  caller?.addEventListener("abort", onCallerAbort, { once: true });
  const signal = deadline.signal;
  const classify = (error: unknown): ProviderError => {
    if (caller?.aborted) return new ProviderError(id, "aborted", `The call to ${label} was cancelled.`);
    if (deadline.signal.aborted) {
      return new ProviderError(id, "retryable", `${label} did not answer within ${formatSeconds(policy.deadlineMs)} (the per-call deadline).`);
    }
    if (error instanceof ProviderError) return error;
    return new ProviderError(id, "retryable", `The connection to ${label} failed: ${describe(error).replace(/\.+$/, "")}.`);
  };

  try {
    for (let attempts = 1; ; attempts++) {
      let failure: ProviderError;
      try {
        return await attempt(signal);
      } catch (error) {
        failure = classify(error);
      }
      if (failure.kind !== "retryable" || deadline.signal.aborted) throw failure;
      if (attempts >= policy.maxAttempts) throw withAttempts(failure, attempts);
      const delay = failure.retryAfterMs ?? backoff(attempts, policy);
      if (Date.now() + delay >= deadlineAt) throw withAttempts(failure, attempts);
      try {
        await sleep(delay, signal);
      } catch (error) {
        throw classify(error);
      }
    }
  } finally {
    clearTimeout(timer);
    caller?.removeEventListener("abort", onCallerAbort);
  }
}

function withAttempts(error: ProviderError, attempts: number): ProviderError {
  if (attempts <= 1) return error;
  return new ProviderError(error.provider, error.kind, `${error.message.replace(/\.$/, "")} (gave up after ${attempts} attempts)`, error.status, error.retryAfterMs);
}

/** Exponential with "equal jitter": half fixed, half random, so retrying callers spread out. */
function backoff(attempt: number, policy: CallPolicy): number {
  const base = policy.baseBackoffMs ?? DEFAULT_BASE_BACKOFF_MS;
  const cap = policy.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  const exponential = Math.min(cap, base * 2 ** (attempt - 1));
  return exponential / 2 + Math.random() * (exponential / 2);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Builds the error for a non-2xx answer from a bounded read of its body (then cancelled). */
async function httpError(request: UpstreamRequest, response: Response): Promise<ProviderError> {
  const { provider } = request;
  const { text, cut } = await readBounded(response, ERROR_BODY_LIMIT);
  // Redacted before anything is cut from it (a key cut in two would no longer be recognised),
  // and at its own cut, where a key may have lost its end.
  const credentials = credentialsOf(request.headers);
  const body = cut ? redactCut(text, credentials) : redact(text, credentials);
  const upstream = upstreamMessage(body);
  const kind = classifyStatus(response.status, body);
  const retryAfterMs = kind === "retryable" ? retryAfterOf(response.headers) : undefined;
  const reported = `${provider.label} returned HTTP ${response.status}${upstream ? `: ${upstream}` : ""}`;
  const message = kind === "final" ? `${reported.replace(/[.\s]+$/, "")}. ${remedy(provider, response.status, body)}` : reported;
  return new ProviderError(provider.id, kind, message, response.status, retryAfterMs);
}

/** What the assistant can do about a final refusal: retrying it unchanged would fail the same way. */
function remedy(provider: ProviderConfig, status: number, body: string): string {
  if (status === 401 || status === 403) return `Check ${provider.keyVariable}.`;
  if (CONTEXT_LENGTH.test(body)) return "The request is too long for this model: send fewer or smaller files, or choose a model with a larger context window.";
  if (QUOTA.test(body)) return `Check the ${provider.label} account's quota and billing, or choose a model from another provider.`;
  if (status === 404) return "Check the model name (listmodels shows the available ones), or choose another model.";
  return "Retrying the same request would fail the same way: change it, or choose another model.";
}

const CONTEXT_LENGTH = /context.length|context_length_exceeded|maximum context|prompt is too long|too many tokens|input token count/i;
const QUOTA = /insufficient_quota|exceeded your current quota|quota exceeded|billing/i;

/** 429 and 5xx are transient, unless the body says quota or context length: retrying cannot help. */
export function classifyStatus(status: number, body: string): ProviderErrorKind {
  if (CONTEXT_LENGTH.test(body)) return "final";
  if (status === 429) return QUOTA.test(body) ? "final" : "retryable";
  if (status === 408 || status >= 500) return "retryable";
  return "final";
}

/** `retry-after-ms` (OpenAI) or `Retry-After` in seconds or as an HTTP date. */
export function retryAfterOf(headers: Headers, now = Date.now()): number | undefined {
  const ms = Number(headers.get("retry-after-ms") ?? Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1_000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The start of a body, at most `limit` characters; `cut` when there may have been more. */
async function readBounded(response: Response, limit: number): Promise<{ text: string; cut: boolean }> {
  const body = response.body;
  if (!body) return { text: "", cut: false };
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let done = false;
  try {
    while (text.length < limit) {
      const chunk = await reader.read();
      if (chunk.done) {
        done = true;
        break;
      }
      text += decoder.decode(chunk.value, { stream: true });
    }
  } catch {
    // A broken error body still leaves the status to report.
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
  }
  return { text: text.slice(0, limit), cut: !done || text.length > limit };
}

/** The upstream's own words: `error.message` of the OpenAI and Google shapes, else the raw text. */
function upstreamMessage(body: string): string {
  let message = body.trim();
  try {
    const json: unknown = JSON.parse(body);
    const first = Array.isArray(json) ? json[0] : json;
    const error = field(first, "error");
    const candidate = typeof error === "string" ? error : (field(error, "message") ?? field(first, "message") ?? field(first, "detail"));
    if (typeof candidate === "string" && candidate.trim()) message = candidate.trim();
  } catch {
    // not JSON: keep the text
  }
  message = message.replace(/\s+/g, " ");
  return message.length > MESSAGE_LIMIT ? `${message.slice(0, MESSAGE_LIMIT)}…` : message;
}

/** The secrets a request carries in its headers. */
function credentialsOf(headers: Record<string, string>): string[] {
  return Object.entries(headers)
    .filter(([name]) => /authorization|api-key/i.test(name))
    .map(([, value]) => value.replace(/^Bearer\s+/i, ""));
}

/** Secrets this short are not looked for: they would match ordinary text. */
const MIN_SECRET_LENGTH = 4;

/** Some upstreams echo the key they rejected, in an error status or inside a 200; never pass it on. */
export function redact(message: string, secrets: readonly string[]): string {
  let result = message;
  for (const secret of secrets) if (secret.length >= MIN_SECRET_LENGTH) result = result.split(secret).join("[redacted]");
  return result;
}

/**
 * `redact` for text cut from a longer one: an ending that is the start of a secret (whose rest
 * fell past the cut) is redacted too.
 */
function redactCut(text: string, secrets: readonly string[]): string {
  const redacted = redact(text, secrets);
  const partial = Math.max(0, ...secrets.filter((secret) => secret.length >= MIN_SECRET_LENGTH).map((secret) => startAtEnd(redacted, secret)));
  return partial > 0 ? `${redacted.slice(0, -partial)}[redacted]` : redacted;
}

/** The length of the longest start of `secret` that `text` ends with (0 for none). */
function startAtEnd(text: string, secret: string): number {
  for (let length = Math.min(secret.length - 1, text.length); length > 0; length--) {
    if (text.endsWith(secret.slice(0, length))) return length;
  }
  return 0;
}

/**
 * Server-sent events from a byte stream (parsed by eventsource-parser). A last event whose blank
 * line never came is still whole if its lines were; a partial last line is dropped. The stream is
 * cancelled if the consumer stops early, so the connection is released.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const parsed: SseEvent[] = [];
  const parser = createParser({ onEvent: ({ event, data }) => parsed.push({ event: event ?? "message", data }) });
  // Decoded here rather than through a TextDecoderStream: one stream fewer per model call.
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let finished = false;
  let endsOnLineBreak = false;
  const feed = (text: string) => {
    parser.feed(text);
    if (text !== "") endsOnLineBreak = /[\r\n]$/.test(text);
  };
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      feed(decoder.decode(chunk.value, { stream: true }));
      yield* parsed.splice(0);
    }
    finished = true;
    feed(decoder.decode());
    // The blank line that ends an event (after completing a CR that may have been half a CRLF).
    if (endsOnLineBreak) parser.feed("\n\n");
    yield* parsed.splice(0);
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** Whole seconds from one second on: the budget handed down is what is left of the call's deadline, a few ms short of it. */
function formatSeconds(ms: number): string {
  return ms < 1_000 ? `${(ms / 1_000).toFixed(1)} s` : `${Math.round(ms / 1_000)} s`;
}

/** A property of an unknown JSON value, or undefined. */
export function field(value: unknown, name: string): unknown {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>)[name] : undefined;
}
