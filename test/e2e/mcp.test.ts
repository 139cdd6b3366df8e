/**
 * End to end: the real worker under `wrangler dev`, the fake upstream on loopback, and the
 * official MCP SDK client over Streamable HTTP, as an assistant would use them.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { beforeAll, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../fake-upstream/server.ts";
import type { WorkerProcess } from "../support/worker-process.ts";
import { e2eStack } from "../support/e2e-stack.ts";

let upstream: FakeUpstream;
let worker: WorkerProcess;

async function connect(url: string): Promise<Client> {
  const client = new Client({ name: "e2e", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

function textOf(result: Awaited<ReturnType<Client["callTool"]>>): string {
  return (result.content as Array<{ type: string; text: string }>)[0]?.text ?? "";
}

const stack = e2eStack();

beforeAll(async () => {
  upstream = await stack.upstream();
  worker = await stack.worker({
    vars: { GEMINI_API_KEY: "test-key", GEMINI_BASE_URL: upstream.url, OPENAI_API_KEY: "test-key", OPENAI_BASE_URL: `${upstream.url}/v1` },
  });
});

describe("MCP over Streamable HTTP against wrangler dev", () => {
  it("initializes, lists tools and calls listmodels and version", async () => {
    const client = await connect(worker.mcpUrl);
    expect(client.getServerVersion()?.name).toBe("zen-mcp-worker");
    expect(client.getInstructions()).toContain("continuation_id");
    // The ranked models are named once, in the instructions, not in every tool's schema.
    expect(client.getInstructions()).toContain("Top models: gemini-3.1-pro-preview");
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(["chat", "listmodels", "version", "threads"]));
    const chatTool = tools.find((tool) => tool.name === "chat");
    expect(JSON.stringify(chatTool?.inputSchema)).toContain("omit for auto");
    const listing = JSON.parse(textOf(await client.callTool({ name: "listmodels", arguments: {} })));
    expect(listing.content).toContain("gemini-3.8-flash");
    expect(listing.metadata.configured_providers).toBe(2);
    const version = JSON.parse(textOf(await client.callTool({ name: "version", arguments: {} })));
    expect(version.metadata.providers).toEqual(["google", "openai"]);
    await client.close();
  });

  it("returns a tool error as an isError result", async () => {
    const client = await connect(worker.mcpUrl);
    const result = await client.callTool({ name: "chat", arguments: { prompt: "hi", model: "no-such-model" } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("not available");
    await client.close();
  });

  it("streams progress while a model answers and the fake upstream receives the prompt", async () => {
    upstream.clearRequests();
    const client = await connect(worker.mcpUrl);
    const progress: string[] = [];
    const result = await client.callTool(
      { name: "chat", arguments: { prompt: "What is the capital of France?", model: "flash" } },
      undefined,
      { onprogress: (p) => progress.push(p.message ?? "") },
    );
    expect(result.isError).toBeFalsy();
    const output = JSON.parse(textOf(result));
    expect(output.status).toBe("continuation_available");
    expect(output.content).toContain("fake:gemini-3.8-flash");
    expect(output.metadata).toMatchObject({ model_used: "flash", provider_used: "google" });
    expect(progress.length).toBeGreaterThan(0);
    const sent = upstream.requests().find((request) => request.kind === "gemini");
    expect(JSON.stringify(sent?.body)).toContain("What is the capital of France?");
    await client.close();
  });
});
