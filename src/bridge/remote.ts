/**
 * Where the bridge talks to: the MCP URL, the REST routes next to it (`/v1/blobs`,
 * `/v1/workspaces`), the bearer token and the workspace. Also the one place that turns a
 * server's error answer into an error with the server's own message.
 *
 * Runs on Node only (the bridge is a local command, never part of the Worker).
 */
import { createHash } from "node:crypto";
import { homedir, hostname, userInfo } from "node:os";

export interface RemoteOptions {
  /** The MCP endpoint, e.g. https://zen.example.com/mcp. */
  mcpUrl: URL;
  token?: string;
  /** Namespace of the path -> content manifest on the server; sent as WORKSPACE_HEADER. */
  workspace: string;
}

/**
 * A workspace id stable for this user on this machine, so `push` and `bridge` started from any
 * directory agree, while two machines with the same user and host name (cloud VMs) still differ
 * by the hash of the home directory and host. Readable prefix for the server's logs.
 */
export function defaultWorkspace(): string {
  let user = "user";
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): the hash below still separates machines.
  }
  const host = hostname();
  const digest = createHash("sha256").update(`${user}\0${host}\0${homedir()}`).digest("hex").slice(0, 12);
  const readable = `${user}-${host}`.replace(/[^A-Za-z0-9_.-]+/g, "-").slice(0, 40);
  return `${readable}-${digest}`;
}

/**
 * The REST routes live beside the MCP endpoint: `https://host/mcp` -> `https://host/v1/...`.
 * A deploy mounted under a prefix (`https://host/zen/mcp`) keeps its prefix.
 */
export function restUrl(options: RemoteOptions, path: string): URL {
  const base = new URL(options.mcpUrl);
  base.pathname = base.pathname.replace(/\/+$/, "").replace(/\/mcp$/, "") + "/";
  base.search = "";
  base.hash = "";
  return new URL(path.replace(/^\/+/, ""), base);
}

export function authHeaders(options: RemoteOptions): Record<string, string> {
  return options.token ? { authorization: `Bearer ${options.token}` } : {};
}

/** An answer from the server that is not a success: status, the server's error code and message. */
export class ServerError extends Error {
  override name = "ServerError";
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const STATUS_HINTS: Record<number, string> = {
  401: "the server refused the token: pass --token or set ZEN_MCP_TOKEN to a valid team token",
  403: "the server refused access",
  404: "not found (is --url the server's /mcp URL, and does the server have the /v1/blobs routes?)",
  413: "too large for this server",
};

/** `{error, message}` from the server's JSON, when the body has them. */
export function parseServerMessage(text: string): { code?: string; message?: string } {
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json === "object" && json !== null) {
      const record = json as Record<string, unknown>;
      const nested = typeof record["error"] === "object" && record["error"] !== null ? (record["error"] as Record<string, unknown>) : undefined;
      const code = typeof record["error"] === "string" ? record["error"] : undefined;
      const message = typeof record["message"] === "string" ? record["message"] : typeof nested?.["message"] === "string" ? nested["message"] : undefined;
      return { ...(code !== undefined ? { code } : {}), ...(message !== undefined ? { message } : {}) };
    }
  } catch {
    // Not JSON (a proxy's HTML page, or an empty HEAD answer): fall back to the status.
  }
  return {};
}

/** Reads a failed response into a ServerError saying what was being done. */
export async function serverError(response: Response, doing: string): Promise<ServerError> {
  const text = await response.text().catch(() => "");
  return answerError(response.status, response.statusText, text, doing);
}

/** A failed answer (status and body) as a ServerError, in the server's words when it gave any. */
export function answerError(status: number, statusText: string, text: string, doing: string): ServerError {
  const { code, message } = parseServerMessage(text);
  const detail = message ?? (STATUS_HINTS[status] ?? (text.trim().slice(0, 300) || statusText));
  return new ServerError(status, code ?? `http_${status}`, `${doing} failed (HTTP ${status}): ${detail}`);
}

export interface ServerRequest {
  method: string;
  headers?: Record<string, string>;
  /**
   * A function, not a body, so a retried request gets a fresh stream: a file is streamed from
   * disk again rather than held in memory for the retry.
   */
  body?: () => BodyInit;
  signal?: AbortSignal;
}

const RETRY_DELAYS_MS = [500, 2_000];
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

/**
 * One request to a REST route with the token; retried on network errors and on transient
 * statuses (all the bridge's requests are idempotent: content-addressed PUTs, HEADs, manifest
 * upserts). Any other answer is returned for the caller to judge.
 */
export async function serverFetch(options: RemoteOptions, path: string, request: ServerRequest): Promise<Response> {
  const url = restUrl(options, path);
  for (let attempt = 0; ; attempt++) {
    const body = request.body?.();
    let response: Response;
    try {
      response = await fetch(url, {
        method: request.method,
        headers: { ...authHeaders(options), ...request.headers },
        ...(body !== undefined ? { body, duplex: "half" } : {}),
        ...(request.signal ? { signal: request.signal } : {}),
      } as RequestInit);
    } catch (error) {
      if (request.signal?.aborted || attempt >= RETRY_DELAYS_MS.length) {
        throw new Error(`Could not reach ${url.origin} (${request.method} ${url.pathname}): ${describeCause(error)}`, { cause: error });
      }
      await delay(RETRY_DELAYS_MS[attempt] ?? 0, request.signal);
      continue;
    }
    if (RETRYABLE_STATUS.has(response.status) && attempt < RETRY_DELAYS_MS.length) {
      await response.body?.cancel();
      await delay(RETRY_DELAYS_MS[attempt] ?? 0, request.signal);
      continue;
    }
    return response;
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/** Node's fetch hides the useful part (ECONNREFUSED, ENOTFOUND) in `cause`. */
export function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return typeof code === "string" ? `${code} ${cause.message}` : cause.message;
  }
  return error.message;
}
