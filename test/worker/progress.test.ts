import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SENT_AT_META_KEY } from "../../src/mcp/progress";
import { callWorker, connectClient, MCP_URL, testEnv } from "./helpers";
import { mockUpstream } from "./upstream-mock";

/** The server's send time in each progress notification, as both eras' official clients hand it over. */

const GEMINI = { GEMINI_API_KEY: "test-key", GEMINI_BASE_URL: "https://gemini.test" };
/** A last step with the expert: two notifications (the step, then the expert's model asked), so their order can be checked. */
const CALL = {
  name: "thinkdeep",
  arguments: { step: "Is a lock needed here?", step_number: 1, total_steps: 1, next_step_required: false, findings: "Two writers share a map.", model: "flash" },
};

type Update = { message?: string; _meta?: Record<string, unknown> };

afterEach(() => {
  vi.restoreAllMocks();
});

function expectSentDuringTheCall(updates: Update[], before: number, after: number): void {
  expect(updates.length).toBeGreaterThanOrEqual(2);
  const sentAt = updates.map((update) => update._meta?.[SENT_AT_META_KEY]);
  for (const time of sentAt) {
    expect(time).toBeTypeOf("number");
    expect(time as number).toBeGreaterThanOrEqual(before);
    expect(time as number).toBeLessThanOrEqual(after);
  }
  expect([...sentAt].sort((a, b) => (a as number) - (b as number))).toEqual(sentAt);
}

describe("progress notifications", () => {
  it("carry the server's send time in _meta to the v2 client pinned to the 2026-07-28 revision", async () => {
    mockUpstream();
    const workerEnv = testEnv(GEMINI);
    const transport = new TransportV2(new URL(MCP_URL), { fetch: (input, init) => callWorker(new Request(input, init), workerEnv) });
    const client = new ClientV2({ name: "progress-test-v2", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
    await client.connect(transport);
    const updates: Update[] = [];
    const before = Date.now();
    const result = await client.callTool(CALL, { onprogress: (update) => void updates.push(update as Update) });
    const after = Date.now();
    expect(result.isError).toBeFalsy();
    expectSentDuringTheCall(updates, before, after);
    await client.close();
  });

  it("carry the server's send time in _meta to the v1 client (2025 handshake)", async () => {
    mockUpstream();
    const client = await connectClient(testEnv(GEMINI));
    const updates: Update[] = [];
    const before = Date.now();
    const result = await client.callTool(CALL, undefined, { onprogress: (update) => void updates.push(update as Update) });
    const after = Date.now();
    expect(result.isError).toBeFalsy();
    expectSentDuringTheCall(updates, before, after);
    await client.close();
  });
});
