import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ALL_TOOLS } from "../../src/tools";
import { callWorker, connectClient, MCP_URL, mcpPost, rpcMessages, testEnv } from "./helpers";
import { mockUpstream, promptOf } from "./upstream-mock";

/**
 * Both protocol eras on the one endpoint: the 2026-07-28 revision (server/discover, the
 * per-request envelope, no session) and the 2025-era handshake, each driven by the official
 * SDK's own client: v2 pinned to 2026-07-28 and in auto mode, v1 for the legacy handshake.
 */

const GEMINI = { GEMINI_API_KEY: "test-key", GEMINI_BASE_URL: "https://gemini.test" };
const MODERN = "2026-07-28";

type Negotiation = { mode: "auto" } | { mode: { pin: string } };

async function connectModern(negotiation: Negotiation, workerEnv = testEnv(GEMINI)): Promise<ClientV2> {
  const transport = new TransportV2(new URL(MCP_URL), { fetch: (input, init) => callWorker(new Request(input, init), workerEnv) });
  const client = new ClientV2({ name: "worker-test-v2", version: "1.0.0" }, { versionNegotiation: negotiation });
  await client.connect(transport);
  return client;
}

function structured(result: object): Record<string, unknown> {
  const { content, structuredContent } = result as { content?: unknown; structuredContent?: unknown };
  const text = (content as Array<{ type: string; text: string }>)[0]?.text ?? "";
  expect(structuredContent, "structured content is the text's JSON").toEqual(JSON.parse(text));
  return structuredContent as Record<string, unknown>;
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("the 2026-07-28 revision", () => {
  it("a client pinned to it discovers the server and lists every tool, each with an output schema", async () => {
    const client = await connectModern({ mode: { pin: MODERN } });
    expect(client.getProtocolEra()).toBe("modern");
    expect(client.getServerVersion()).toMatchObject({ name: "zen-mcp-worker" });
    expect(client.getServerCapabilities()).toMatchObject({ tools: {}, prompts: {} });
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(ALL_TOOLS.map((tool) => tool.name));
    for (const tool of tools) expect(tool.outputSchema, tool.name).toMatchObject({ type: "object", required: ["status"] });
    await client.close();
  });

  it("a client in auto mode negotiates the modern era", async () => {
    const client = await connectModern({ mode: "auto" });
    expect(client.getProtocolEra()).toBe("modern");
    await client.close();
  });

  it("streams progress naming the model and continues a thread across tools", async () => {
    const sent = mockUpstream(() => "Use a mutex.");
    const client = await connectModern({ mode: { pin: MODERN } });
    const progress: string[] = [];
    const first = await client.callTool(
      { name: "chat", arguments: { prompt: "Is a lock needed here?", model: "flash" } },
      { onprogress: (update) => void progress.push(update.message ?? "") },
    );
    expect(first.isError).toBeFalsy();
    const output = structured(first);
    expect(output).toMatchObject({ status: "continuation_available", metadata: { model_name: "gemini-3.8-flash" } });
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.some((message) => message.includes("gemini-3.8-flash"))).toBe(true);
    for (const message of progress) expect(message.length).toBeLessThan(200);

    const id = (output["continuation_offer"] as { continuation_id: string }).continuation_id;
    const second = await client.callTool({
      name: "thinkdeep",
      arguments: { step: "Weigh the lock", step_number: 1, total_steps: 1, next_step_required: false, findings: "Two writers", continuation_id: id },
    });
    expect(second.isError).toBeFalsy();
    expect(structured(second)["status"]).toBeTypeOf("string");
    expect(promptOf(sent.at(-1)!)).toContain("Is a lock needed here?");
    await client.close();
  });

  it("tells the client at once, then every 10 s, naming the model and the seconds elapsed", async () => {
    // Only the heartbeat's interval and the clock are faked: the call's I/O runs as it does.
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
    let answer: ((text: string) => void) | undefined;
    mockUpstream(() => new Promise<string>((resolve) => (answer = resolve)));
    const client = await connectModern({ mode: { pin: MODERN } });
    const progress: string[] = [];
    const call = client.callTool(
      { name: "chat", arguments: { prompt: "Think long about this lock", model: "flash" } },
      { onprogress: (update) => void progress.push(update.message ?? "") },
    );
    const heard = async (count: number) => {
      while (progress.length < count) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    await heard(1);
    // The heartbeat runs from the model call on: wait until the upstream is asked.
    while (!answer) await new Promise((resolve) => setTimeout(resolve, 5));
    await vi.advanceTimersByTimeAsync(10_000);
    await heard(2);
    await vi.advanceTimersByTimeAsync(10_000);
    await heard(3);
    answer?.("Keep the lock.");
    expect((await call).isError).toBeFalsy();
    expect(progress).toEqual([
      "chat: preparing the request for gemini-3.8-flash (0 s)",
      "gemini-3.8-flash: working (10 s)",
      "gemini-3.8-flash: working (20 s)",
    ]);
    await client.close();
  });

  it("answers tools/list with the revision's cache fields, and nothing of them to the legacy era", async () => {
    const client = await connectModern({ mode: { pin: MODERN } });
    const modern = await client.listTools();
    expect(modern).toMatchObject({ ttlMs: 300_000, cacheScope: "private" });
    await client.close();
    const legacy = await connectClient(testEnv(GEMINI));
    const old = (await legacy.listTools()) as Record<string, unknown>;
    expect(old["ttlMs"]).toBeUndefined();
    await legacy.close();
  });

  it("refuses a request whose Mcp-Method header disagrees with its body, with the revision's error", async () => {
    const envelope = {
      "io.modelcontextprotocol/protocolVersion": MODERN,
      "io.modelcontextprotocol/clientInfo": { name: "probe", version: "1" },
      "io.modelcontextprotocol/clientCapabilities": {},
    };
    const body = { jsonrpc: "2.0", id: 7, method: "tools/list", params: { _meta: envelope } };
    const agreeing = await callWorker(mcpPost(body, { "mcp-protocol-version": MODERN, "mcp-method": "tools/list" }), testEnv(GEMINI));
    expect(agreeing.status).toBe(200);
    const mismatched = await callWorker(mcpPost(body, { "mcp-protocol-version": MODERN, "mcp-method": "tools/call" }), testEnv(GEMINI));
    expect(mismatched.status).toBe(400);
    const [message] = await rpcMessages(mismatched);
    expect(message).toMatchObject({ id: 7, error: { code: -32020 } });
  });
});

describe("the legacy handshake", () => {
  it("a 2025-era client gets the same structured content and text", async () => {
    mockUpstream(() => "fine");
    const client = await connectClient(testEnv(GEMINI));
    const result = await client.callTool({ name: "chat", arguments: { prompt: "Hello", model: "flash" } });
    expect(structured(result)).toMatchObject({ status: "continuation_available" });
    await client.close();
  });

  it("refuses a JSON-RPC batch before any tool runs: one POST cannot carry many model calls", async () => {
    const sent = mockUpstream(() => "should not be asked");
    const call = (id: number) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "chat", arguments: { prompt: `q${id}`, model: "flash" } } });
    const response = await callWorker(mcpPost(Array.from({ length: 100 }, (_, i) => call(i + 1))), testEnv(GEMINI));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: -32600, message: expect.stringContaining("batches are not supported") } });
    expect(sent).toHaveLength(0);
  });
});
