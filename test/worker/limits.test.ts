/**
 * Limits not covered elsewhere, each with its documented answer: images (count, type, size)
 * through a tool, a workflow step over MCP_PROMPT_SIZE_LIMIT, the model's file budget shared by
 * several files, and a thread's TTL on both sides of CONVERSATION_TIMEOUT_HOURS. (The /mcp body,
 * upload and quota limits are in app.test.ts and files.test.ts; a chat prompt over the limit, the
 * turn cap and expiry by the alarm in conversations.test.ts; references and files per call and a
 * single file over the budget in files.test.ts and tools.test.ts.)
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/core/env.ts";
import "../support/observed.ts";
import { callWorker, connectClient, testEnv } from "./helpers";
import { mockUpstream, promptOf } from "./upstream-mock";

const GEMINI = { GEMINI_API_KEY: "k", GEMINI_BASE_URL: "https://gemini.test" };
const PNG_HEADER = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

async function call(workerEnv: Env, tool: string, args: Record<string, unknown>) {
  const client = await connectClient(workerEnv);
  const result = await client.callTool({ name: tool, arguments: args });
  await client.close();
  const text = (result.content as Array<{ text: string }>)[0]?.text ?? "";
  let json: Record<string, any> | undefined;
  try {
    json = JSON.parse(text) as Record<string, any>;
  } catch {
    json = undefined;
  }
  return { isError: result.isError === true, text, json };
}

async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", data))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Uploads a file and registers it at a path of the default workspace. */
async function uploadAt(workerEnv: Env, path: string, content: Uint8Array | string, contentType: string): Promise<void> {
  const sha = await sha256Hex(content);
  const put = await callWorker(new Request(`http://localhost/v1/blobs/${sha}`, { method: "PUT", body: content, headers: { "content-type": contentType } }), workerEnv);
  expect(put.status).toBeLessThan(300);
  const manifest = await callWorker(
    new Request("http://localhost/v1/workspaces/default/manifest", {
      method: "PUT",
      body: JSON.stringify({ files: { [path]: sha } }),
      headers: { "content-type": "application/json" },
    }),
    workerEnv,
  );
  expect(manifest.status).toBe(200);
}

describe("images", () => {
  it("count: more than 5 is an isError naming the limit, and no model is called", async ({ task }) => {
    const sent = mockUpstream();
    const six = Array.from({ length: 6 }, () => "data:image/png;base64,iVBORw0KGgo=");
    const result = await call(testEnv(GEMINI), "chat", { prompt: "compare these", model: "flash", images: six });
    expect(result.isError).toBe(true);
    expect(result.text).toContain("At most 5 images can be sent with one request; got 6.");
    expect(sent).toHaveLength(0);
    task.meta.observed = { answer: "isError", message: result.text };
  });

  it("type: a file that is not an image, uploaded or inline, is an isError saying so, not a request to upload it again", async ({ task }) => {
    const sent = mockUpstream();
    const workerEnv = testEnv(GEMINI);
    await uploadAt(workerEnv, "/shots/notes.txt", "just text\n", "text/plain");
    const uploaded = await call(workerEnv, "chat", { prompt: "what is this", model: "flash", images: ["/shots/notes.txt"] });
    expect(uploaded.isError).toBe(true);
    expect(uploaded.text).toContain("'/shots/notes.txt' is not an image (text/plain)");
    const inline = await call(workerEnv, "chat", { prompt: "what is this", model: "flash", images: ["data:text/plain;base64,aGk="] });
    expect(inline.isError).toBe(true);
    expect(inline.text).toContain("Image 1 (a data URL) is not an image (text/plain)");
    expect(sent).toHaveLength(0);
    task.meta.observed = { answer: "isError", message: uploaded.text };
  });

  it("size: an uploaded image over 20 MB is refused before it is read, naming the file and the limit", async ({ task }) => {
    const sent = mockUpstream();
    const workerEnv = testEnv(GEMINI);
    const big = new Uint8Array(21 * 1024 * 1024);
    big.set(PNG_HEADER);
    await uploadAt(workerEnv, "/shots/huge.png", big, "image/png");
    const result = await call(workerEnv, "chat", { prompt: "describe", model: "flash", images: ["/shots/huge.png"] });
    expect(result.isError).toBe(true);
    expect(result.text).toBe("'/shots/huge.png' is 21.0 MB; each image may be at most 20 MB. Send a smaller image.");
    expect(sent).toHaveLength(0);
    task.meta.observed = { answer: "isError", message: result.text };
  });
});

describe("prompt size", () => {
  it("a workflow step over MCP_PROMPT_SIZE_LIMIT gets resend_prompt, and nothing is stored or called", async ({ task }) => {
    const sent = mockUpstream();
    const result = await call(testEnv({ ...GEMINI, MCP_PROMPT_SIZE_LIMIT: "1000" }), "thinkdeep", {
      step: "y".repeat(1_001),
      step_number: 1,
      total_steps: 1,
      next_step_required: false,
      findings: "none yet",
      model: "flash",
    });
    expect(result.isError).toBe(true);
    expect(result.json).toMatchObject({ status: "resend_prompt", metadata: { prompt_size: 1_001, limit: 1_000 } });
    expect(result.json?.continuation_offer ?? null).toBeNull();
    expect(sent).toHaveLength(0);
    task.meta.observed = { answer: "isError", status: String(result.json?.status) };
  });
});

describe("the model's file budget", () => {
  it("files that fit one by one but not together: the later ones are named in files_skipped", async ({ task }) => {
    const sent = mockUpstream();
    // A model outside the registry gets a 32K context: about 4,900 tokens (20K characters) for files.
    const workerEnv = testEnv({ CUSTOM_API_URL: "https://local.test/v1", CUSTOM_MODEL_NAME: "tiny" });
    const files = ["a", "b", "c", "d"].map((name) => ({ path: `/repo/${name}.py`, content: `# ${name}\n${"v = 1\n".repeat(1_000)}` }));
    const result = await call(workerEnv, "chat", { prompt: "review all four", model: "tiny", absolute_file_paths: files });
    expect(result.isError).toBe(false);
    const skipped = result.json?.metadata.files_skipped as Array<{ path: string; reason: string }>;
    expect(skipped.map((file) => file.path)).toContain("/repo/d.py");
    expect(skipped.map((file) => file.path)).not.toContain("/repo/a.py");
    for (const file of skipped) expect(file.reason).toMatch(/over the model's file budget \(\d+ tokens left for files; this file needs about \d+\)/);
    const prompt = promptOf(sent[0]!);
    expect(prompt).toContain("BEGIN FILE: /repo/a.py");
    expect(prompt).not.toContain("BEGIN FILE: /repo/d.py");
    task.meta.observed = { answer: "answered", skipped: skipped.map((file) => file.path).join(", ") };
  });
});

describe("thread TTL", () => {
  it("a thread is alive just before CONVERSATION_TIMEOUT_HOURS after its last turn, and gone just after", async ({ task }) => {
    mockUpstream(() => "noted");
    const workerEnv = testEnv({ ...GEMINI, CONVERSATION_TIMEOUT_HOURS: "2" });
    const ttlMs = 2 * 3_600_000;
    const first = await call(workerEnv, "chat", { prompt: "remember 31337", model: "flash" });
    const id = first.json?.continuation_offer.continuation_id as string;
    const stub = workerEnv.CONVERSATIONS.getByName(`default:${id}`);
    // The exchange is stored as the reply goes out: wait until the thread is there.
    for (let i = 0; i < 100 && (await stub.read()) === null; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    const lastTurnAt = (await stub.read())?.updatedAt ?? 0;
    expect(lastTurnAt).toBeGreaterThan(0);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(lastTurnAt + ttlMs - 60_000);
    // The alarm may run early (it is moved lazily); a thread that has not expired stays.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.read()).not.toBeNull();
    const before = await call(workerEnv, "chat", { prompt: "still there?", continuation_id: id });
    expect(before.isError, before.text).toBe(false);
    const continuedAt = (await stub.read())?.updatedAt ?? 0;
    expect(continuedAt).toBeGreaterThanOrEqual(lastTurnAt + ttlMs - 60_000);

    // The continuation pushed the expiry back: gone only once the TTL has passed since it.
    vi.setSystemTime(continuedAt + ttlMs + 60_000);
    expect(await stub.read()).toBeNull();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await call(workerEnv, "chat", { prompt: "and now?", continuation_id: id });
    expect(after.isError).toBe(true);
    expect(after.text).toContain("was not found or has expired. Threads are kept for 2 hours after their last turn");
    task.meta.observed = { before: "continued", after: "isError: not found or expired" };
  });
});
