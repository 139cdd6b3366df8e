/**
 * Durable threads end to end: a thread outlives a restart of the worker. (Cancellation is tested
 * inside workerd, in test/worker/conversations.test.ts: `wrangler dev`'s local proxy does not pass
 * a client's disconnect on to the worker.)
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { beforeAll, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../fake-upstream/server.ts";
import type { WorkerProcess } from "../support/worker-process.ts";
import { e2eStack } from "../support/e2e-stack.ts";

let upstream: FakeUpstream;
let worker: WorkerProcess | undefined;

function vars(): Record<string, string> {
  return { GEMINI_API_KEY: "k", GEMINI_BASE_URL: upstream.url };
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ name: "e2e-threads", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

async function chat(client: Client, args: Record<string, unknown>) {
  const result = await client.callTool({ name: "chat", arguments: args });
  const text = (result.content as Array<{ text: string }>)[0]?.text ?? "";
  return { isError: result.isError === true, text, output: result.isError ? undefined : JSON.parse(text) };
}

const stack = e2eStack();

beforeAll(async () => {
  upstream = await stack.upstream();
});

async function listedThreads(): Promise<Array<{ threadId: string; turnCount: number }>> {
  const { threads } = (await (await fetch(`${worker?.url}/v1/threads`)).json()) as { threads: Array<{ threadId: string; turnCount: number }> };
  return threads;
}

describe("durable threads", () => {
  it("continues a thread after wrangler dev restarts on the same persisted state", async () => {
    worker = await stack.worker({ vars: vars() });
    const persistDir = worker.persistDir;
    let client = await connect(worker.mcpUrl);
    const first = await chat(client, { prompt: "Remember the number 7351.", model: "flash" });
    const id: string = first.output.continuation_offer.continuation_id;
    await client.close();
    // The team's thread list is written in the background (gathered with other calls' activity):
    // wait until it shows the thread before the restart, as a deploy lets background work finish.
    for (let attempt = 0; attempt < 100 && !(await listedThreads()).some((t) => t.threadId === id); attempt++) {
      await new Promise((done) => setTimeout(done, 50));
    }
    await worker.stop();

    worker = await stack.worker({ vars: vars(), persistDir });
    upstream.clearRequests();
    client = await connect(worker.mcpUrl);
    const second = await chat(client, { prompt: "Which number did I ask you to remember?", continuation_id: id });
    expect(second.isError).toBe(false);
    expect(second.output.continuation_offer.continuation_id).toBe(id);
    const sent = JSON.stringify(upstream.requests().at(-1)?.body);
    expect(sent).toContain("Remember the number 7351.");
    const threads = await listedThreads();
    // Listed (its entry is refreshed at most once a minute, so it may still say 2 turns).
    expect(threads.find((t) => t.threadId === id)?.turnCount).toBeGreaterThanOrEqual(2);
    await client.close();
  });
});
