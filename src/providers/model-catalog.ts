import { z } from "zod";
import { configOf } from "../core/config";
import type { Env } from "../core/env";

/**
 * The public model catalog: a list of models in OpenRouter's `/api/v1/models` shape, read by the
 * cron trigger (daily), bounded, validated and normalised, and kept in the CACHE KV namespace.
 * Requests read it from an in-isolate copy refreshed from KV at most once a minute, so the hot
 * path never waits on KV. A failed refresh keeps the last good catalog and records why.
 */

/**
 * The catalog's bounds: bytes read (OpenRouter's list is about 1-2 MB; its text and parsed JSON
 * take several times that of an isolate's 128 MB), time, entries kept.
 */
export const MAX_CATALOG_BYTES = 8 * 1024 * 1024;
const CATALOG_TIMEOUT_MS = 20_000;
export const MAX_CATALOG_ENTRIES = 5_000;

/** Versioned KV keys: the last good catalog, and the last attempt to refresh it. */
export const CATALOG_KEY = "model-catalog:v1:current";
export const CATALOG_ATTEMPT_KEY = "model-catalog:v1:attempt";
/** How long an isolate keeps its copy before reading KV again. */
const ISOLATE_REFRESH_MS = 60_000;

/** One model of the catalog, as stored: the facts this server uses. Prices in USD per million tokens. */
export interface CatalogEntry {
  id: string;
  contextWindow: number;
  maxOutputTokens?: number;
  inputPerMtok?: number;
  outputPerMtok?: number;
  images: boolean;
  reasoning: boolean;
  temperature: boolean;
}

/** The last good catalog. */
export interface ModelCatalog {
  source: string;
  /** When it was fetched, ISO 8601. */
  fetchedAt: string;
  entries: CatalogEntry[];
}

/** The last refresh, good or not: a failed one shows here while the last good catalog stays. */
export interface CatalogAttempt {
  source: string;
  at: string;
  ok: boolean;
  /** Entries kept, and entries of the list left out because they did not fit the shape. */
  entries?: number;
  skipped?: number;
  error?: string;
}

/** What an isolate knows of the catalog: the last good one (or none yet) and the last attempt. */
export interface CatalogState {
  catalog: ModelCatalog | null;
  attempt: CatalogAttempt | null;
}

/** A price as OpenRouter gives it: USD per token, as a decimal string ("-1" for a variable price). */
const perToken = z.union([z.string(), z.number()]).optional();

const catalogItem = z.object({
  id: z.string().min(1).max(200),
  context_length: z.number().int().positive(),
  pricing: z.object({ prompt: perToken, completion: perToken }).optional(),
  top_provider: z.object({ max_completion_tokens: z.number().int().positive().nullish() }).nullish(),
  supported_parameters: z.array(z.string()).nullish(),
  architecture: z.object({ input_modalities: z.array(z.string()).nullish() }).nullish(),
});

const NOT_A_CATALOG = 'must be a JSON object with a "data" array of models';
const catalogDocument = z.object(
  { data: z.array(z.unknown(), { error: NOT_A_CATALOG }), links: z.object({ next: z.string().max(2_000).nullish() }).nullish() },
  { error: NOT_A_CATALOG },
);

/** USD per token to USD per million tokens, rounded to a millionth of a dollar; undefined when not a fixed price. */
function perMillion(value: string | number | undefined): number | undefined {
  const perTokenUsd = typeof value === "string" ? Number(value) : value;
  if (perTokenUsd === undefined || !Number.isFinite(perTokenUsd) || perTokenUsd < 0) return undefined;
  return Math.round(perTokenUsd * 1e12) / 1e6;
}

/** Normalises one catalog item; undefined when it does not fit the shape. */
function normalise(item: unknown): CatalogEntry | undefined {
  const parsed = catalogItem.safeParse(item);
  if (!parsed.success) return undefined;
  const { id, context_length, pricing, top_provider, supported_parameters, architecture } = parsed.data;
  const input = perMillion(pricing?.prompt);
  const output = perMillion(pricing?.completion);
  const cap = top_provider?.max_completion_tokens;
  const parameters = supported_parameters ?? [];
  return {
    id,
    contextWindow: context_length,
    ...(cap ? { maxOutputTokens: cap } : {}),
    // A price is a pair: half of one is no price.
    ...(input !== undefined && output !== undefined ? { inputPerMtok: input, outputPerMtok: output } : {}),
    images: (architecture?.input_modalities ?? []).includes("image"),
    reasoning: parameters.includes("reasoning"),
    // A model that lists its parameters and leaves temperature out does not take one.
    temperature: parameters.length === 0 || parameters.includes("temperature"),
  };
}

/** A refresh that cannot be used: the message says what was wrong. */
class CatalogRefreshError extends Error {
  override name = "CatalogRefreshError";
}

/** The response's body as text, refused past `maxBytes` while it streams (Content-Length first). */
async function boundedText(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new CatalogRefreshError(`a page of ${declared} bytes takes the catalog over its ${MAX_CATALOG_BYTES}-byte limit`);
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    bytes += value.byteLength;
    if (bytes > maxBytes) {
      await reader.cancel();
      throw new CatalogRefreshError(`the catalog is over its ${MAX_CATALOG_BYTES}-byte limit`);
    }
    text += decoder.decode(value, { stream: true });
  }
}

const NO_ANSWER = `no complete answer within ${CATALOG_TIMEOUT_MS / 1000} s`;

function timedOut(error: unknown): boolean {
  return error instanceof DOMException && error.name === "TimeoutError";
}

/** At most this many pages: OpenRouter pages its list by 500 models (`links.next`). */
const MAX_CATALOG_PAGES = 20;

/**
 * Fetches and normalises the catalog at `source`, following its `links.next` pages on the same
 * origin; the bounds (bytes, time, models) hold for all pages together. Throws
 * CatalogRefreshError saying what was wrong.
 */
export async function fetchCatalog(source: string, now = new Date()): Promise<{ catalog: ModelCatalog; skipped: number }> {
  const signal = AbortSignal.timeout(CATALOG_TIMEOUT_MS);
  const items: unknown[] = [];
  let bytesLeft = MAX_CATALOG_BYTES;
  let page: URL | undefined = new URL(source);
  for (let pages = 0; page; pages++) {
    if (pages === MAX_CATALOG_PAGES) throw new CatalogRefreshError(`it has more than ${MAX_CATALOG_PAGES} pages`);
    const { data, next, bytes } = await fetchPage(page, signal, bytesLeft);
    bytesLeft -= bytes;
    items.push(...data);
    if (items.length > MAX_CATALOG_ENTRIES) throw new CatalogRefreshError(`it lists ${items.length} models, over the limit of ${MAX_CATALOG_ENTRIES}`);
    page = next ? nextPage(page, next) : undefined;
  }
  const entries = items.map(normalise).filter((entry) => entry !== undefined);
  if (entries.length === 0) throw new CatalogRefreshError("no model in it has an id and a context_length");
  return { catalog: { source, fetchedAt: now.toISOString(), entries }, skipped: items.length - entries.length };
}

/** The next page's URL, relative to this one; only on the catalog's own origin. */
function nextPage(current: URL, next: string): URL {
  const url = new URL(next, current);
  if (url.origin !== current.origin) throw new CatalogRefreshError(`its next page ${url.origin} is on another origin than ${current.origin}`);
  return url;
}

/** One page: its models, the link to the next one, and the bytes it took. */
async function fetchPage(url: URL, signal: AbortSignal, maxBytes: number): Promise<{ data: unknown[]; next: string | null; bytes: number }> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: "application/json" }, signal });
  } catch (error) {
    throw new CatalogRefreshError(timedOut(error) ? NO_ANSWER : `could not be reached (${String(error)})`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new CatalogRefreshError(`answered HTTP ${response.status}`);
  }
  let text: string;
  try {
    text = await boundedText(response, maxBytes);
  } catch (error) {
    if (error instanceof CatalogRefreshError) throw error;
    throw new CatalogRefreshError(timedOut(error) ? NO_ANSWER : `the body could not be read (${String(error)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CatalogRefreshError("the body is not JSON");
  }
  const document = catalogDocument.safeParse(json);
  if (!document.success) throw new CatalogRefreshError(`the body ${document.error.issues[0]?.message ?? "has the wrong shape"}`);
  return { data: document.data.data, next: document.data.links?.next ?? null, bytes: new TextEncoder().encode(text).byteLength };
}

/**
 * The cron trigger's work: reads the catalog, stores it when it is good, and records the attempt
 * either way: a failure is the attempt's error, logged once. Throws only when KV cannot store the
 * attempt itself.
 */
export async function refreshCatalog(env: Env, source: string, now = new Date()): Promise<CatalogAttempt> {
  const base = { source, at: now.toISOString() };
  let attempt: CatalogAttempt;
  try {
    const { catalog, skipped } = await fetchCatalog(source, now);
    await env.CACHE.put(CATALOG_KEY, JSON.stringify(catalog));
    attempt = { ...base, ok: true, entries: catalog.entries.length, skipped };
    isolateCopy = { state: { catalog, attempt }, readAt: Date.now() };
  } catch (error) {
    const reason = error instanceof CatalogRefreshError ? error.message : `failed (${String(error)})`;
    attempt = { ...base, ok: false, error: `The model catalog at ${source}: ${reason}. The last good catalog is kept.` };
    console.warn(JSON.stringify({ event: "catalog_refresh_failed", source, error: attempt.error }));
    if (isolateCopy) isolateCopy = { state: { ...isolateCopy.state, attempt }, readAt: isolateCopy.readAt };
  }
  await env.CACHE.put(CATALOG_ATTEMPT_KEY, JSON.stringify(attempt));
  return attempt;
}

/** The cron trigger: refreshes from MODEL_CATALOG_URL; a configuration that cannot be read is logged, as a failed refresh is. */
export async function scheduledRefresh(env: Env): Promise<void> {
  let source: string;
  try {
    source = configOf(env).modelCatalogUrl;
  } catch (error) {
    console.warn(JSON.stringify({ event: "catalog_refresh_skipped", error: String(error) }));
    return;
  }
  await refreshCatalog(env, source);
}

let isolateCopy: { state: CatalogState; readAt: number } | undefined;

/**
 * The catalog as this isolate knows it, read from KV when its copy is over a minute old. Each
 * request reads for itself (a promise is not shared across requests in Workers); a KV error keeps
 * the copy it has, and the next read waits its minute too.
 */
export async function loadCatalog(env: Env): Promise<CatalogState> {
  if (isolateCopy && Date.now() - isolateCopy.readAt < ISOLATE_REFRESH_MS) return isolateCopy.state;
  try {
    const [catalog, attempt] = await Promise.all([
      env.CACHE.get<ModelCatalog>(CATALOG_KEY, { type: "json", cacheTtl: 60 }),
      env.CACHE.get<CatalogAttempt>(CATALOG_ATTEMPT_KEY, { type: "json", cacheTtl: 60 }),
    ]);
    // The same catalog read again keeps its object: the registry is rebuilt only when the catalog changes.
    const known = isolateCopy?.state.catalog;
    const same = known && catalog && known.fetchedAt === catalog.fetchedAt && known.source === catalog.source;
    const state = { catalog: same ? known : catalog, attempt };
    isolateCopy = { state, readAt: Date.now() };
    return state;
  } catch (error) {
    console.warn(JSON.stringify({ event: "catalog_read_failed", error: String(error) }));
    isolateCopy = { state: isolateCopy?.state ?? { catalog: null, attempt: null }, readAt: Date.now() };
    return isolateCopy.state;
  }
}

/** The isolate's copy as last loaded (nothing before the first load): what builds a request's registry. */
export function currentCatalogState(): CatalogState {
  return isolateCopy?.state ?? { catalog: null, attempt: null };
}

/** Forgets the isolate's copy, so the next load reads KV (tests and benchmarks). */
export function forgetCatalogCopy(): void {
  isolateCopy = undefined;
}

/** How old a catalog is, for people: "3 h", "2 d". */
function ageOf(fetchedAt: string, now = Date.now()): string {
  const minutes = Math.max(0, Math.round((now - Date.parse(fetchedAt)) / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} d`;
}

/** What /health, the status page and listmodels show of the catalog: its source and age, and a failed last refresh. */
export interface CatalogStatus {
  /** The last good catalog, or null before the first good refresh (the shipped registry alone). */
  current: { source: string; fetchedAt: string; age: string; models: number } | null;
  lastAttempt: CatalogAttempt | null;
}

export function catalogStatusOf(state: CatalogState, now = Date.now()): CatalogStatus {
  const { catalog, attempt } = state;
  return {
    current: catalog ? { source: catalog.source, fetchedAt: catalog.fetchedAt, age: ageOf(catalog.fetchedAt, now), models: catalog.entries.length } : null,
    lastAttempt: attempt,
  };
}

/** One sentence on the catalog, for listmodels and the status page. */
export function describeCatalog(status: CatalogStatus, shippedAsOf: string | null): string {
  const current = status.current
    ? `${status.current.models} model${status.current.models === 1 ? "" : "s"} from ${status.current.source}, fetched ${status.current.fetchedAt} (${status.current.age} ago)`
    : `none refreshed yet: the shipped registry (${shippedAsOf ? `as of ${shippedAsOf}` : "undated"}) alone`;
  const failed = status.lastAttempt && !status.lastAttempt.ok ? `; the last refresh (${status.lastAttempt.at}) failed: ${status.lastAttempt.error}` : "";
  return `${current}${failed}`;
}
