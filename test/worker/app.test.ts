import { describe, expect, it } from "vitest";
import { callWorker, connectClient, mcpPost, rpcMessages, testEnv } from "./helpers";

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
};

describe("/health", () => {
  it("reports version, no provider and single-team mode without secrets", async () => {
    const response = await callWorker(new Request("http://localhost/health"));
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: "no_provider", name: "zen-mcp-worker", providers: [] });
    expect(String(body.teams)).toContain("single team");
    expect(String(body.message)).toContain(".dev.vars");
  });

  it("names configured providers and never their keys", async () => {
    const response = await callWorker(new Request("http://localhost/health"), testEnv({ GEMINI_API_KEY: "secret-gemini-key" }));
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({ status: "ok", providers: ["google"] });
    expect(text).not.toContain("secret-gemini-key");
  });

  it("answers a bad configuration value with the variable's name", async () => {
    const response = await callWorker(new Request("http://localhost/health"), testEnv({ MAX_CONVERSATION_TURNS: "lots" }));
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: "configuration", message: expect.stringContaining("MAX_CONVERSATION_TURNS") });
  });

  it("never echoes a configuration value: it may hold a secret", async () => {
    const response = await callWorker(new Request("http://localhost/health"), testEnv({ CUSTOM_API_URL: "ftp://admin:pa55word@llm.internal" }));
    expect(response.status).toBe(503);
    const body = await response.text();
    expect(body).toContain("CUSTOM_API_URL");
    expect(body).not.toContain("pa55word");
  });
});

describe("routing and guards", () => {
  it("answers unknown routes with a JSON 404", async () => {
    const response = await callWorker(new Request("http://localhost/nope"));
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: "not_found" });
  });

  it("refuses a foreign Host and a foreign Origin", async () => {
    const foreignHost = await callWorker(mcpPost(initialize, { host: "evil.example" }));
    expect(foreignHost.status).toBe(403);
    const foreignOrigin = await callWorker(mcpPost(initialize, { origin: "http://evil.example" }));
    expect(foreignOrigin.status).toBe(403);
    expect(await foreignOrigin.json()).toMatchObject({ error: "forbidden_origin" });
  });

  it("accepts a hostname listed in ALLOWED_HOSTNAMES", async () => {
    const workerEnv = testEnv({ ALLOWED_HOSTNAMES: "zen.example.com" });
    const response = await callWorker(
      new Request("https://zen.example.com/health", { headers: { origin: "https://zen.example.com" } }),
      workerEnv,
    );
    expect(response.status).toBe(200);
  });

  it("answers an oversized body with 413 and a JSON error", async () => {
    const big = JSON.stringify({ ...initialize, padding: "x".repeat(5_000) });
    const response = await callWorker(mcpPost(big), testEnv({ MAX_REQUEST_BODY_BYTES: "2048" }));
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: "payload_too_large" });
  });
});

describe("team tokens", () => {
  it("requires a valid bearer token when TEAM_TOKENS is set", async () => {
    const workerEnv = testEnv({ TEAM_TOKENS: JSON.stringify({ [await sha256Hex("token-a")]: "team-a" }) });
    const missing = await callWorker(mcpPost(initialize), workerEnv);
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toContain("Bearer");
    const wrong = await callWorker(mcpPost(initialize, { authorization: "Bearer token-b" }), workerEnv);
    expect(wrong.status).toBe(401);
    const right = await callWorker(mcpPost(initialize, { authorization: "Bearer token-a" }), workerEnv);
    expect(right.status).toBe(200);
  });

  it("rejects a TEAM_TOKENS value that is not a digest map", async () => {
    const response = await callWorker(mcpPost(initialize), testEnv({ TEAM_TOKENS: '{"plain-token":"team-a"}' }));
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ message: expect.stringContaining("TEAM_TOKENS") });
  });
});

describe("MCP over Streamable HTTP", () => {
  it("initializes statelessly over SSE with the server's identity", async () => {
    const response = await callWorker(mcpPost(initialize));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    expect(response.headers.get("mcp-session-id")).toBeNull();
    const [message] = await rpcMessages(response);
    expect(message).toMatchObject({
      id: 1,
      result: { serverInfo: { name: "zen-mcp-worker" }, capabilities: { tools: {}, prompts: {} } },
    });
    expect(String((message?.result as { instructions?: string }).instructions)).toContain("continuation_id");
  });

  it("refuses GET and DELETE with 405: there is no session or standalone stream", async () => {
    for (const method of ["GET", "DELETE"]) {
      const response = await callWorker(new Request("http://localhost/mcp", { method, headers: { accept: "text/event-stream" } }));
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe("POST");
    }
  });

  it("refuses a malformed workspace header", async () => {
    const response = await callWorker(mcpPost(initialize, { "x-zen-workspace": "../etc" }));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "bad_workspace" });
  });

  it("answers malformed JSON with a JSON-RPC parse error and no stack trace", async () => {
    const response = await callWorker(mcpPost("{not json"));
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({ jsonrpc: "2.0", error: { code: -32700 } });
    expect(text).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it("answers an unknown method with a JSON-RPC error", async () => {
    const [message] = await rpcMessages(await callWorker(mcpPost({ jsonrpc: "2.0", id: 7, method: "no/such" })));
    expect(message).toMatchObject({ id: 7, error: { code: -32601 } });
  });

  it("lists tools and prompts and calls listmodels and version through the SDK client", async () => {
    const client = await connectClient(testEnv({ OPENAI_API_KEY: "k" }));
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(["listmodels", "version"]));
    const listing = await client.callTool({ name: "listmodels", arguments: {} });
    const listingText = (listing.content as Array<{ text: string }>)[0]?.text ?? "";
    expect(JSON.parse(listingText)).toMatchObject({ status: "success", content_type: "markdown" });
    expect(listingText).toContain("gpt-5.1");
    expect(listingText).toContain("Google Gemini ❌");
    const versionResult = await client.callTool({ name: "version", arguments: {} });
    expect((versionResult.content as Array<{ text: string }>)[0]?.text).toContain("openai");
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name)).toContain("continue");
    await client.close();
  });

  it("returns isError for bad arguments and unknown tools", async () => {
    const client = await connectClient();
    const bad = await client.callTool({ name: "version", arguments: { surprise: 1 } });
    expect(bad.isError).toBe(true);
    expect((bad.content as Array<{ text: string }>)[0]?.text).toContain("Invalid arguments for version");
    const unknown = await client.callTool({ name: "nope", arguments: {} });
    expect(unknown.isError).toBe(true);
    expect((unknown.content as Array<{ text: string }>)[0]?.text).toContain("Unknown tool 'nope'");
    await client.close();
  });
});
