import { AsyncLocalStorage } from "node:async_hooks";
import { isJsonContentType } from "@modelcontextprotocol/server";
import { createMcpHandler } from "agents/mcp/server";
import { buildServer, type McpRequestDeps } from "./server";

/** The request a server is built for: the handler's factory takes no arguments of ours. */
const requestScope = new AsyncLocalStorage<McpRequestDeps>();

/**
 * Cloudflare's stateless MCP handler: one endpoint for both protocol eras, the 2026-07-28
 * revision (`server/discover`, the per-request `_meta` envelope, no session) and the 2025-era
 * handshake in its stateless legacy lane; a fresh server per request from the factory, so
 * nothing depends on which isolate answers. Host, Origin, authentication and body size are
 * checked by the routes' middleware before a request gets here, hence no CORS and no second
 * Origin check.
 */
const handler = createMcpHandler(
  () => {
    const deps = requestScope.getStore();
    if (!deps) throw new Error("An MCP server was built outside handleMcpRequest.");
    return buildServer(deps);
  },
  {
    route: "/mcp",
    corsOptions: false,
    allowedOriginHostnames: "*",
    // Mostly requests the protocol refuses (the client was told why); a warning, not an error of the server's.
    onerror: (error) => console.warn(JSON.stringify({ event: "mcp_handler_report", error: String(error) })),
  },
);

/** A JSON-RPC error answered before any server is built. */
function jsonRpcError(status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: "2.0", id: null, error: { code, message } }, { status });
}

/**
 * Serves one POST to /mcp. JSON-RPC batches are refused: the 2026-07-28 revision and the 2025
 * revisions since 2025-06-18 have none, and one POST of a hundred tool calls would otherwise
 * run a hundred model calls past every per-request limit.
 */
export function handleMcpRequest(request: Request, deps: McpRequestDeps): Promise<Response> {
  return requestScope.run(deps, () => serve(request));
}

async function serve(request: Request): Promise<Response> {
  // The handler answers a body of another type with 415 before reading it.
  if (!isJsonContentType(request.headers.get("content-type"))) return handler.fetch(request);
  const text = await request.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return jsonRpcError(400, -32700, "Parse error: the request body is not valid JSON. Send one JSON-RPC message per POST.");
  }
  if (Array.isArray(body)) {
    return jsonRpcError(400, -32600, "JSON-RPC batches are not supported: send each message in its own POST.");
  }
  return handler.fetch(request, { parsedBody: body });
}
