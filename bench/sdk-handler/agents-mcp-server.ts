/**
 * `agents/mcp/server` as the `sdk` variant of bench/protocol-eras.ts sees it (wrangler's `alias`
 * in ./wrangler.toml swaps it in at bundle time): the project's code unchanged, served by the MCP
 * SDK's own web-standard `createMcpHandler` instead of Cloudflare's wrapper around it, with the
 * same `legacy: "stateless"` posture (2025-era requests answered by a fresh server from the same
 * factory). The product keeps one code path; only the benchmark swaps the module.
 *
 * It takes the call shapes src/mcp/handler.ts uses and refuses any option it does not
 * implement, so a change there fails loudly here instead of being measured as something else.
 */
import { createMcpHandler as createSdkMcpHandler, type McpServerFactory } from "@modelcontextprotocol/server";
import type { CreateMcpHandlerOptions, StatelessMcpHandler } from "agents/mcp/server";

/** What the project uses of agents' handler: `fetch` (with a parsed body) and `notify`. */
export type SdkMcpHandler = Pick<StatelessMcpHandler, "fetch" | "notify">;

export function createMcpHandler(factory: McpServerFactory, options: CreateMcpHandlerOptions = {}): SdkMcpHandler {
  const { route = "/mcp", corsOptions, allowedOriginHostnames, allowedHostnames, authContext, legacy, ...sdkOptions } = options;
  // agents' options that do work here: with these values they do none (the project's middleware
  // checks Host, Origin and authentication before /mcp), so the SDK handler alone is like for like.
  if (corsOptions !== false) throw new TypeError("bench sdk handler: only corsOptions: false is implemented");
  if (allowedOriginHostnames !== "*") throw new TypeError('bench sdk handler: only allowedOriginHostnames: "*" is implemented');
  if (allowedHostnames !== undefined || authContext !== undefined) throw new TypeError("bench sdk handler: allowedHostnames and authContext are not implemented");
  if (legacy !== undefined && legacy !== "stateless") throw new TypeError('bench sdk handler: only legacy: "stateless" is implemented');
  const sdk = createSdkMcpHandler(factory, { ...sdkOptions, legacy: "stateless" });
  return {
    fetch: (request, requestOptions) =>
      new URL(request.url).pathname === route ? sdk.fetch(request, requestOptions) : Promise.resolve(new Response("Not Found", { status: 404 })),
    notify: sdk.notify,
  };
}
