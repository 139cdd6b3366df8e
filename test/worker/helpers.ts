import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Env } from "../../src/core/env.ts";
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
 * The client address workerd (and `wrangler dev`) gives a request whose connection comes from this
 * machine, in CF-Connecting-IP (test/e2e/local-mode.test.ts sees it from a real `wrangler dev`).
 */
export const LOOPBACK_CLIENT = "127.0.0.1";

/**
 * Sends a request to the worker with the given env, once the work earlier requests deferred is
 * done (a tool call answers as a stream and defers work while it streams: team activity, breaker
 * reports), so a request sees what the ones before it did. Waits for its own deferred work too.
 * A request that names no client address comes from this machine, as the runtime would say.
 */
export async function callWorker(request: Request, workerEnv: Env = testEnv()): Promise<Response> {
  await deferredWorkDone();
  const ctx = trackedContext();
  const response = await worker.fetch(asTheRuntimeDelivers(request), workerEnv, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/**
 * A request as the runtime hands it to the worker: with Host (an HTTP client always sends it, and
 * the MCP handler refuses a request without one) and the client's address in CF-Connecting-IP
 * (this machine's, unless the test names another); a Request built in a test has neither.
 */
function asTheRuntimeDelivers(request: Request): Request {
  const delivered = new Request(request);
  if (!delivered.headers.has("host")) delivered.headers.set("host", new URL(request.url).host);
  if (!delivered.headers.has("cf-connecting-ip")) delivered.headers.set("cf-connecting-ip", LOOPBACK_CLIENT);
  return delivered;
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

/**
 * A Durable Object namespace whose stubs report calls to the named methods to `onCall` (the
 * method and its arguments) before making them: put it in place of an env's binding to count
 * or list what the worker asks its objects.
 */
export function watchedNamespace<T extends Rpc.DurableObjectBranded | undefined>(
  namespace: DurableObjectNamespace<T>,
  methods: readonly string[],
  onCall: (method: string, args: unknown[]) => void,
): DurableObjectNamespace<T> {
  return new Proxy(namespace, {
    get: (target, property) =>
      property === "getByName"
        ? (name: string) =>
            new Proxy(target.getByName(name), {
              get: (stub, method) => {
                if (typeof method !== "string" || !methods.includes(method)) return Reflect.get(stub, method);
                return (...args: unknown[]) => {
                  onCall(method, args);
                  return (stub as unknown as Record<string, (...a: unknown[]) => unknown>)[method]?.(...args);
                };
              },
            })
        : Reflect.get(target, property),
  });
}
