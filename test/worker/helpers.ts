import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Env } from "../../src/env";
import worker from "../../src/worker";

/** The real bindings of wrangler.toml (DOs, KV, vars) with some variables replaced. */
export function testEnv(overrides: Record<string, string> = {}): Env {
  return { ...(env as unknown as Env), ...overrides };
}

/** Work requests deferred (ctx.waitUntil) that may still be running. */
const outstanding = new Set<Promise<unknown>>();

/** An execution context whose deferred work is tracked until it settles. */
function trackedContext(): ExecutionContext {
  const ctx = createExecutionContext();
  const defer = ctx.waitUntil.bind(ctx);
  ctx.waitUntil = (promise: Promise<unknown>) => {
    const settled = promise.then(
      () => undefined,
      () => undefined,
    );
    outstanding.add(settled);
    void settled.then(() => outstanding.delete(settled));
    defer(promise);
  };
  return ctx;
}

/** Waits until no deferred work of any request is running (before reading a Durable Object directly, say). */
export async function deferredWorkDone(): Promise<void> {
  while (outstanding.size > 0) await Promise.all([...outstanding]);
}

/**
 * Sends a request to the worker with the given env, once the work earlier requests deferred is
 * done (a tool call answers as a stream and defers work while it streams: team activity, breaker
 * reports), so a request sees what the ones before it did. Waits for its own deferred work too.
 */
export async function callWorker(request: Request, workerEnv: Env = testEnv()): Promise<Response> {
  await deferredWorkDone();
  const ctx = trackedContext();
  const response = await worker.fetch(withHostHeader(request), workerEnv, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/** An HTTP client always sends Host (the MCP handler refuses a request without one); a Request built in a test has none. */
function withHostHeader(request: Request): Request {
  if (request.headers.has("host")) return request;
  const headers = new Headers(request.headers);
  headers.set("host", new URL(request.url).host);
  return new Request(request, { headers });
}

export const MCP_URL = "http://localhost/mcp";

/** A JSON-RPC POST as a Streamable HTTP client sends it. */
export function mcpPost(body: unknown, headers: Record<string, string> = {}): Request {
  return new Request(MCP_URL, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** The JSON-RPC messages of an SSE (or plain JSON) response body. */
export async function rpcMessages(response: Response): Promise<Array<Record<string, unknown>>> {
  const text = await response.text();
  if ((response.headers.get("content-type") ?? "").includes("application/json")) return [JSON.parse(text)];
  return text
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).trim())
    .filter((data) => data !== "")
    .map((data) => JSON.parse(data) as Record<string, unknown>);
}

/** The official MCP SDK client, connected to the worker in this isolate. */
export async function connectClient(workerEnv: Env = testEnv(), headers: Record<string, string> = {}): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(MCP_URL), {
    fetch: (input, init) => callWorker(new Request(input, init), workerEnv),
    requestInit: { headers },
  });
  const client = new Client({ name: "worker-test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}
