/**
 * MCP client helpers: the official SDK clients over Streamable HTTP (as assistants connect): the
 * v1 SDK's (`@modelcontextprotocol/sdk`, the 2025 handshake: the legacy era) and the v2 SDK's
 * (`@modelcontextprotocol/client`) pinned to the 2026-07-28 revision (the modern era); and a raw
 * JSON-RPC POST for exact response bytes and for polling a starting worker.
 */
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { LATEST_PROTOCOL_VERSION, type CallToolResult, type Progress } from "@modelcontextprotocol/sdk/types.js";
import { SENT_AT_META_KEY } from "../../src/mcp/progress.ts";

export type { Client, ModernClient };
/** Either era's client: every helper below takes both. */
export type AnyClient = Client | ModernClient;

/** The revision of the modern era, as a pinned v2 client asks for it. */
export const MODERN_REVISION = "2026-07-28";

/** A connected v1 client: Client.connect() makes the initialize round trip (and opens the GET stream). */
export async function connect(mcpUrl: string, name = "bench"): Promise<Client> {
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl)));
  return client;
}

/**
 * A connected v2 client pinned to MODERN_REVISION (its connect() probes with `server/discover`
 * and fails unless the server offers that revision); checked to have negotiated the modern era.
 */
export async function connectModern(mcpUrl: string, name = "bench"): Promise<ModernClient> {
  const client = new ModernClient({ name, version: "1.0.0" }, { versionNegotiation: { mode: { pin: MODERN_REVISION } } });
  await client.connect(new ModernTransport(new URL(mcpUrl)));
  if (client.getProtocolEra() !== "modern") {
    await client.close();
    throw new Error(`a client pinned to ${MODERN_REVISION} negotiated the ${client.getProtocolEra()} era`);
  }
  return client;
}

/** The protocol revision a connected client negotiated. */
export function negotiatedRevision(client: AnyClient): string | undefined {
  if (client instanceof ModernClient) return client.getNegotiatedProtocolVersion();
  return client.transport instanceof StreamableHTTPClientTransport ? client.transport.protocolVersion : undefined;
}

/** Connects `count` clients with `connectOne`, at most `parallel` handshakes at a time. Closes them all if one fails. */
export async function connectMany<C extends AnyClient = Client>(
  mcpUrl: string,
  count: number,
  parallel = 32,
  connectOne: (mcpUrl: string, name: string) => Promise<C> = connect as (mcpUrl: string, name: string) => Promise<C>,
): Promise<C[]> {
  const clients: C[] = [];
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: Math.min(parallel, count) }, async () => {
        while (next < count) {
          next++;
          clients.push(await connectOne(mcpUrl, `bench-${clients.length}`));
        }
      }),
    );
  } catch (error) {
    await closeAll(clients);
    throw error;
  }
  return clients;
}

export async function closeAll(clients: AnyClient[]): Promise<void> {
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
}

export function textOf(result: unknown): string {
  const content = (result as CallToolResult).content ?? [];
  const first = content[0];
  return first && first.type === "text" ? first.text : "";
}

export interface TimedCall {
  ms: number;
  /** ms from the call to the first progress notification, if any arrived: when the client heard it. */
  firstProgressMs?: number;
  /**
   * ms from the call to the server's send time of that notification (its `_meta`, the server's
   * clock on this machine; 1 ms resolution): what the client's own load adds is left out.
   */
  firstProgressServerMs?: number;
  result?: CallToolResult;
  error?: string;
}

/**
 * Calls a tool and times it on the client (performance.now around the whole request). An
 * `isError` result counts as an error unless `allowToolError`.
 */
export async function timedCall(
  client: AnyClient,
  name: string,
  args: Record<string, unknown>,
  options: { timeoutMs?: number; progress?: boolean; allowToolError?: boolean } = {},
): Promise<TimedCall> {
  const start = performance.now();
  const startedAt = Date.now();
  let firstProgressMs: number | undefined;
  let firstProgressServerMs: number | undefined;
  const onprogress = (progress: Progress) => {
    if (firstProgressMs !== undefined) return;
    firstProgressMs = performance.now() - start;
    // The SDK's Progress type leaves `_meta` out; both clients pass it through with the rest of the params.
    const sentAt = (progress as { _meta?: Record<string, unknown> })._meta?.[SENT_AT_META_KEY];
    if (typeof sentAt === "number") firstProgressServerMs = sentAt - startedAt;
  };
  const heard = () => ({
    ...(firstProgressMs !== undefined ? { firstProgressMs } : {}),
    ...(firstProgressServerMs !== undefined ? { firstProgressServerMs } : {}),
  });
  try {
    const request = { name, arguments: args };
    const callOptions = { timeout: options.timeoutMs ?? 120_000, ...(options.progress ? { onprogress, resetTimeoutOnProgress: false } : {}) };
    // The v2 client takes the options second; the v1 client a result schema first.
    const result = (client instanceof ModernClient ? await client.callTool(request, callOptions) : await client.callTool(request, undefined, callOptions)) as CallToolResult;
    const ms = performance.now() - start;
    const base = { ms, result, ...heard() };
    if (result.isError && !options.allowToolError) return { ...base, error: `tool error: ${textOf(result).slice(0, 300)}` };
    return base;
  } catch (error) {
    return { ms: performance.now() - start, error: String(error), ...heard() };
  }
}

/** Throws with the error of a failed call (for sequential benchmarks where any error is fatal). */
export function ok(call: TimedCall, what: string): TimedCall {
  if (call.error) throw new Error(`${what} failed: ${call.error}`);
  return call;
}

export interface RawRpc {
  status: number;
  /** The JSON-RPC response message (from the SSE stream or a JSON body); undefined if none. */
  message?: { result?: unknown; error?: { code: number; message: string } };
  ms: number;
}

/**
 * One JSON-RPC request over Streamable HTTP without the SDK client (stateless servers accept it
 * without a session), with the response message parsed from SSE or JSON.
 */
export async function rawRpc(mcpUrl: string, method: string, params: Record<string, unknown> = {}, signal?: AbortSignal): Promise<RawRpc> {
  const start = performance.now();
  const response = await fetch(mcpUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": LATEST_PROTOCOL_VERSION,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    ...(signal ? { signal } : {}),
  });
  const text = await response.text();
  const ms = performance.now() - start;
  let message: RawRpc["message"];
  const type = response.headers.get("content-type") ?? "";
  if (type.includes("text/event-stream")) {
    for (const line of text.split(/\r?\n/)) {
      if (!line.startsWith("data:")) continue;
      const parsed = JSON.parse(line.slice(5).trim()) as { id?: unknown };
      if (parsed.id === 1) message = parsed as RawRpc["message"];
    }
  } else if (type.includes("application/json") && text) {
    message = JSON.parse(text) as RawRpc["message"];
  }
  return { status: response.status, ms, ...(message ? { message } : {}) };
}
