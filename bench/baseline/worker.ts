/**
 * Benchmark baseline: the bare MCP SDK on a Worker, the way its README shows it. A fresh
 * McpServer and stateless WebStandardStreamableHTTPServerTransport per request (SSE responses),
 * and three tools:
 *   - `echo` writes one row to a SQLite Durable Object (with `fresh: true`, to a new object each
 *     time, i.e. a new SQLite database, as the project does for each new conversation thread);
 *   - `upstream` makes one fetch to an OpenAI-style chat completions endpoint and returns its
 *     text, after one progress notification when the client asked for progress (as the project
 *     sends one before its model call, with the server's send time in `_meta` as the project's do);
 *   - `consult` does the essential durable work of one chat exchange, in the order a durable
 *     server must: one progress notification, the upstream call, then the exchange written as one
 *     row to a SQLite Durable Object (the object named by `thread`, or a new one, as a new
 *     conversation thread is), before the reply. `store: "after_reply"` defers the write past the
 *     reply (waitUntil), as the project did before its exchanges were stored before the reply
 *     (bench/engine-split.ts compares that code with this).
 * No config parsing, no middleware, no threads, no breaker: what any MCP server on Workers pays.
 * `PUT /upload` is the upload baseline: it hashes the streamed body and discards it.
 */
import { DurableObject } from "cloudflare:workers";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { z } from "zod";
import { SENT_AT_META_KEY } from "../../src/mcp/progress";

interface BaselineEnv {
  ECHO: DurableObjectNamespace<EchoDO>;
  UPSTREAM_URL: string;
}

export class EchoDO extends DurableObject<BaselineEnv> {
  constructor(ctx: DurableObjectState, env: BaselineEnv) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS echo (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, at INTEGER NOT NULL)");
  }

  echo(text: string): number {
    this.ctx.storage.sql.exec("INSERT INTO echo (text, at) VALUES (?, ?)", text, Date.now());
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM echo").one().n;
  }
}

function server(env: BaselineEnv, ctx: ExecutionContext): McpServer {
  const mcp = new McpServer({ name: "zen-bench-baseline", version: "1.0.0" });
  const echoInput = { text: z.string(), fresh: z.boolean().optional() };
  mcp.registerTool("echo", { description: "Stores the text in a Durable Object and returns it.", inputSchema: echoInput }, async ({ text, fresh }) => {
    const rows = await env.ECHO.getByName(fresh ? crypto.randomUUID() : "echo").echo(text);
    return { content: [{ type: "text", text: `${text} (${rows} rows)` }] };
  });
  type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
  const askUpstream = async (prompt: string, extra: Extra) => {
    // One progress notification first, as the project sends one before any other work.
    const progressToken = extra._meta?.progressToken;
    if (progressToken !== undefined) {
      await extra.sendNotification({
        method: "notifications/progress",
        params: { progressToken, progress: 1, message: "request sent", _meta: { [SENT_AT_META_KEY]: Date.now() } },
      });
    }
    const response = await fetch(`${env.UPSTREAM_URL}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer baseline" },
      body: JSON.stringify({ model: "baseline-model", messages: [{ role: "user", content: prompt }] }),
      signal: extra.signal,
    });
    if (!response.ok) return { isError: true, content: [{ type: "text" as const, text: `upstream HTTP ${response.status}` }] };
    const json = (await response.json()) as { choices?: Array<{ message?: { content?: string } }> };
    return { content: [{ type: "text" as const, text: json.choices?.[0]?.message?.content ?? "" }] };
  };
  mcp.registerTool("upstream", { description: "Asks the upstream model once.", inputSchema: { prompt: z.string() } }, ({ prompt }, extra) =>
    askUpstream(prompt, extra),
  );
  mcp.registerTool(
    "consult",
    {
      description: "Asks the upstream model once, then stores the exchange in a Durable Object.",
      inputSchema: { prompt: z.string(), thread: z.string().optional(), store: z.enum(["before_reply", "after_reply"]).optional() },
    },
    async ({ prompt, thread, store }, extra) => {
      const answer = await askUpstream(prompt, extra);
      if (answer.isError) return answer;
      const write = env.ECHO.getByName(thread ?? crypto.randomUUID()).echo(`${prompt}\n${answer.content[0]?.text ?? ""}`);
      if (store === "after_reply") ctx.waitUntil(write);
      else await write;
      return answer;
    },
  );
  return mcp;
}

/** The upload baseline: hash the streamed body and drop it, the least any upload route must do. */
async function hashAndDiscard(request: Request): Promise<Response> {
  const digest = new crypto.DigestStream("SHA-256");
  let size = 0;
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      size += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  await (request.body ?? new Blob([]).stream()).pipeThrough(counter).pipeTo(digest);
  const sha256 = [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return Response.json({ sha256, size });
}

export default {
  async fetch(request: Request, env: BaselineEnv, ctx: ExecutionContext): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/health") return Response.json({ ok: true });
    if (pathname === "/upload" && request.method === "PUT") return hashAndDiscard(request);
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    await server(env, ctx).connect(transport);
    return transport.handleRequest(request);
  },
} satisfies ExportedHandler<BaselineEnv>;
