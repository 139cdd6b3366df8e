/**
 * Acknowledged means stored: everything the server acknowledged (threads, including one whose
 * reply had only just arrived, workflow steps, blobs, multipart parts, manifests) is there after
 * `wrangler dev` is killed with SIGKILL and restarted on the same state, and concurrent
 * continuations cut by the crash lose no acknowledged turn and leave no half-written exchange.
 */
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../fake-upstream/server.ts";
import { callTool, connectMcp } from "../support/mcp-session.ts";
import type { WorkerProcess } from "../support/worker-process.ts";
import { e2eStack } from "../support/e2e-stack.ts";

let upstream: FakeUpstream;
let worker: WorkerProcess;

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

function vars(): Record<string, string> {
  return { GEMINI_API_KEY: "k", GEMINI_BASE_URL: upstream.url, BLOB_PART_MIB: "5" };
}

async function chat(args: Record<string, unknown>, timeoutMs?: number) {
  const client = await connectMcp(worker.mcpUrl);
  try {
    return await callTool(client, "chat", { model: "flash", ...args }, timeoutMs ? { timeoutMs } : {});
  } finally {
    await client.close().catch(() => undefined);
  }
}

function lastPrompt(): string {
  return JSON.stringify(upstream.requests().at(-1)?.body ?? "");
}

const stack = e2eStack();

beforeAll(async () => {
  upstream = await stack.upstream();
  worker = await stack.worker({ vars: vars() });
});

describe("kill -9 of wrangler dev", () => {
  it("keeps every acknowledged thread, step, blob, part and manifest, and continues them", async () => {
    const persistDir = worker.persistDir;

    // A thread with two exchanges, and a debug session paused after step 1.
    const a1 = await chat({ prompt: "Thread A: remember 4242." });
    const threadA = a1.json?.continuation_offer.continuation_id as string;
    await chat({ prompt: "Thread A: and also 1717.", continuation_id: threadA });
    const client = await connectMcp(worker.mcpUrl);
    const step1 = await callTool(client, "debug", {
      step: "Crash on save",
      step_number: 1,
      total_steps: 2,
      next_step_required: true,
      findings: "Save fails when the disk is full.",
    });
    await client.close();
    const session = step1.json?.continuation_id as string;

    // A blob, a manifest naming it, and a multipart upload of three parts (5 MiB, R2's smallest) with two sent.
    const code = "def save():\n    raise OSError('disk full')\n";
    const put = await fetch(`${worker.url}/v1/blobs/${sha256(code)}`, { method: "PUT", body: code, headers: { "content-type": "text/x-python" } });
    expect(put.status).toBe(201);
    const manifest = await fetch(`${worker.url}/v1/workspaces/default/manifest`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ files: { "/repo/save.py": sha256(code) } }),
    });
    expect(manifest.status).toBe(200);
    const big = new Uint8Array(2.5 * 5 * 1024 * 1024).map((_, i) => i % 251);
    const bigSha = sha256(big);
    const begin = await fetch(`${worker.url}/v1/blobs/${bigSha}/uploads`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ size: big.byteLength, mediaType: "application/octet-stream" }),
    });
    expect(begin.status).toBe(201);
    const { uploadId, partSize } = (await begin.json()) as { uploadId: string; partSize: number };
    for (const part of [1, 2]) {
      const sent = await fetch(`${worker.url}/v1/blobs/${bigSha}/uploads/${uploadId}/parts/${part}`, {
        method: "PUT",
        body: big.slice((part - 1) * partSize, part * partSize),
      });
      expect(sent.status).toBe(200);
    }

    // Concurrent continuations of one thread, half of them still waiting on the model at the crash.
    const c1 = await chat({ prompt: "Thread C begins." });
    const threadC = c1.json?.continuation_offer.continuation_id as string;
    upstream.fault({ delayMs: 30_000, times: 4 });
    // The crash cuts them off; their client gives up after 10 s (the connections are not reset cleanly).
    const slow = Array.from({ length: 4 }, (_, i) => chat({ prompt: `Thread C slow ${i}.`, continuation_id: threadC }, 10_000).catch(() => undefined));
    // Let the slow ones take the delayed faults before the fast ones go out.
    while (upstream.inFlight() < 4) await new Promise((resolve) => setTimeout(resolve, 50));
    const fast = await Promise.all(Array.from({ length: 4 }, (_, i) => chat({ prompt: `Thread C fast ${i}.`, continuation_id: threadC })));
    const acknowledged = fast.filter((result) => !result.isError).map((_, i) => `Thread C fast ${i}.`);
    expect(acknowledged).toHaveLength(4);

    // A reply that has only just arrived, then the crash.
    const b1 = await chat({ prompt: "Thread B: the password hint is 'teal heron'." });
    const threadB = b1.json?.continuation_offer.continuation_id as string;
    await worker.kill();
    await Promise.all(slow);

    upstream.reset();
    worker = await stack.worker({ vars: vars(), persistDir });

    const b2 = await chat({ prompt: "What was the hint?", continuation_id: threadB });
    expect(b2.isError).toBe(false);
    expect(lastPrompt()).toContain("teal heron");

    const a3 = await chat({ prompt: "Which numbers?", continuation_id: threadA });
    expect(a3.isError).toBe(false);
    expect(lastPrompt()).toContain("4242");
    expect(lastPrompt()).toContain("1717");

    const c2 = await chat({ prompt: "Summarize thread C.", continuation_id: threadC });
    expect(c2.isError).toBe(false);
    const history = lastPrompt();
    for (const prompt of acknowledged) expect(history).toContain(prompt);
    // Whole exchanges only: every request the history shows has its answer.
    const requests = history.split("(Agent using chat)").length - 1;
    const answers = history.split("using chat via google)").length - 1;
    expect(requests).toBe(answers);

    const again = await connectMcp(worker.mcpUrl);
    const step2 = await callTool(again, "debug", {
      step: "Confirmed",
      step_number: 2,
      total_steps: 2,
      next_step_required: false,
      findings: "No free-space check before writing.",
      continuation_id: session,
      use_assistant_model: false,
      confidence: "high",
    });
    await again.close();
    expect(step2.json?.complete_investigation.steps_taken).toBe(2);
    expect(step2.json?.complete_investigation.work_summary).toContain("disk is full");

    expect((await fetch(`${worker.url}/v1/blobs/${sha256(code)}`, { method: "HEAD" })).status).toBe(200);
    const withFile = await chat({ prompt: "Read it.", absolute_file_paths: ["/repo/save.py"] });
    expect(withFile.json?.status).toBe("continuation_available");
    expect(lastPrompt()).toContain("disk full");

    const third = await fetch(`${worker.url}/v1/blobs/${bigSha}/uploads/${uploadId}/parts/3`, { method: "PUT", body: big.slice(2 * partSize) });
    expect(third.status).toBe(200);
    const complete = await fetch(`${worker.url}/v1/blobs/${bigSha}/uploads/${uploadId}/complete`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(complete.status).toBe(201);
    expect(((await complete.json()) as { size: number }).size).toBe(big.byteLength);
  });
});
