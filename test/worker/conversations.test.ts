import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/core/config.ts";
import type { Env } from "../../src/core/env.ts";
import { ThreadStore } from "../../src/durable/thread-store";
import { parseProviders } from "../../src/providers/catalog";
import { ModelRegistry } from "../../src/providers/registry";
import { exchange } from "../../src/tools/engine/exchange";
import type { ToolContext } from "../../src/tools/define";
import { callWorker, connectClient, mcpPost, testEnv } from "./helpers";
import { mockUpstream, promptOf } from "./upstream-mock";

const GEMINI = { GEMINI_API_KEY: "test-key", GEMINI_BASE_URL: "https://gemini.test" };
const BOTH = { ...GEMINI, OPENAI_API_KEY: "test-key", OPENAI_BASE_URL: "https://openai.test/v1" };

interface ChatOutput {
  status: string;
  content: string;
  metadata: Record<string, unknown>;
  continuation_offer: { continuation_id: string; remaining_turns: number } | null;
  generated_code?: string;
}

async function chat(workerEnv: Env, args: Record<string, unknown>, headers: Record<string, string> = {}) {
  const client = await connectClient(workerEnv, headers);
  const result = await client.callTool({ name: "chat", arguments: args });
  await client.close();
  const text = (result.content as Array<{ text: string }>)[0]?.text ?? "";
  return { isError: result.isError === true, text, output: result.isError ? undefined : (JSON.parse(text) as ChatOutput) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("chat and durable threads", () => {
  it("starts a thread and continues it with the same model, showing the history once", async () => {
    const sent = mockUpstream((request) => `answer ${promptOf(request).length}`);
    const workerEnv = testEnv(BOTH);
    const first = await chat(workerEnv, {
      prompt: "Is a mutex needed here?",
      model: "flash",
      absolute_file_paths: [{ path: "/repo/lock.py", content: "import threading\nlock = threading.Lock()\n" }],
    });
    expect(first.output?.status).toBe("continuation_available");
    const id = first.output?.continuation_offer?.continuation_id ?? "";
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(promptOf(sent[0]!)).toContain("   1│ import threading");

    const second = await chat(workerEnv, { prompt: "And with asyncio?", continuation_id: id });
    expect(second.output?.metadata).toMatchObject({ model_used: "gemini-3.8-flash", provider_used: "google" });
    const prompt = promptOf(sent[1]!);
    expect(prompt).toContain("CONVERSATION HISTORY");
    expect(prompt).toContain("Is a mutex needed here?");
    expect(prompt).toContain("And with asyncio?");
    expect(prompt.split("CONVERSATION HISTORY (CONTINUATION)").length - 1).toBe(1);
    expect(prompt.split("BEGIN FILE: /repo/lock.py").length - 1).toBe(1);
    expect(second.output?.continuation_offer?.remaining_turns).toBe(46);
  });

  it("lets another model continue the thread and lists it in threads", async () => {
    const sent = mockUpstream(() => "ok");
    const workerEnv = testEnv(BOTH);
    const first = await chat(workerEnv, { prompt: "Plan the cache layer", model: "flash" });
    const id = first.output?.continuation_offer?.continuation_id ?? "";
    const second = await chat(workerEnv, { prompt: "Second opinion?", continuation_id: id, model: "gpt-5" });
    expect(second.output?.metadata).toMatchObject({ provider_used: "openai" });
    expect(promptOf(sent[1]!)).toContain("Plan the cache layer");

    const client = await connectClient(workerEnv);
    const listed = await client.callTool({ name: "threads", arguments: {} });
    const text = (listed.content as Array<{ text: string }>)[0]?.text ?? "";
    expect(text).toContain(id);
    expect(text).toContain("Plan the cache layer");
    await client.close();
  });

  it("refuses an unknown id, and another team's id, with an isError that says how to start over", async () => {
    mockUpstream();
    const digest = async (token: string) =>
      [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)))]
        .map((b) => b.toString(16).padStart(2, "0"))
        .join("");
    const workerEnv = testEnv({ ...GEMINI, TEAM_TOKENS: JSON.stringify({ [await digest("a")]: "team-a", [await digest("b")]: "team-b" }) });
    const first = await chat(workerEnv, { prompt: "secret plan", model: "flash" }, { authorization: "Bearer a" });
    const id = first.output?.continuation_offer?.continuation_id ?? "";
    const foreign = await chat(workerEnv, { prompt: "tell me", continuation_id: id }, { authorization: "Bearer b" });
    expect(foreign.isError).toBe(true);
    expect(foreign.text).toContain("was not found or has expired");
    expect(foreign.text).toContain("without continuation_id");
    const unknown = await chat(workerEnv, { prompt: "x", continuation_id: crypto.randomUUID() }, { authorization: "Bearer a" });
    expect(unknown.isError).toBe(true);
  });

  it("enforces the turn cap", async () => {
    mockUpstream();
    const workerEnv = testEnv({ ...GEMINI, MAX_CONVERSATION_TURNS: "4" });
    const first = await chat(workerEnv, { prompt: "one", model: "flash" });
    const id = first.output?.continuation_offer?.continuation_id ?? "";
    const second = await chat(workerEnv, { prompt: "two", continuation_id: id });
    expect(second.output?.status).toBe("success");
    expect(second.output?.continuation_offer).toBeNull();
    const third = await chat(workerEnv, { prompt: "three", continuation_id: id });
    expect(third.isError).toBe(true);
    expect(third.text).toContain("limit of 4 turns");
  });

  it("expires a thread when its alarm runs after the TTL", async () => {
    mockUpstream();
    const workerEnv = testEnv(GEMINI);
    const first = await chat(workerEnv, { prompt: "short-lived", model: "flash" });
    const id = first.output?.continuation_offer?.continuation_id ?? "";
    const stub = workerEnv.CONVERSATIONS.getByName(`default:${id}`);
    // The exchange is stored as the reply goes out: wait until the thread is there.
    for (let i = 0; i < 100 && (await stub.read()) === null; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await stub.read()).not.toBeNull();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 25 * 3_600_000);
    try {
      expect(await runDurableObjectAlarm(stub)).toBe(true);
    } finally {
      vi.useRealTimers();
    }
    expect(await stub.read()).toBeNull();
    const again = await chat(workerEnv, { prompt: "still there?", continuation_id: id });
    expect(again.isError).toBe(true);
  });

  it("serializes 50 concurrent continuations of one thread: no turn lost or duplicated", async () => {
    mockUpstream(() => "fine");
    const workerEnv = testEnv({ ...GEMINI, MAX_CONVERSATION_TURNS: "200" });
    const first = await chat(workerEnv, { prompt: "start", model: "flash" });
    const id = first.output?.continuation_offer?.continuation_id ?? "";
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => chat(workerEnv, { prompt: `parallel ${i}`, continuation_id: id })),
    );
    expect(results.filter((r) => r.isError)).toEqual([]);
    const thread = await workerEnv.CONVERSATIONS.getByName(`default:${id}`).read();
    expect(thread?.turns.length).toBe(102);
    expect(thread?.turns.map((t) => t.index)).toEqual(Array.from({ length: 102 }, (_, i) => i + 1));
    const prompts = thread?.turns.filter((t) => t.role === "user").map((t) => t.content) ?? [];
    expect(new Set(prompts).size).toBe(51);
  });


  it("reads a thread from memory exactly as its rows hold it, through appends, replaced files and step state, and past the size it is kept to", async () => {
    const workerEnv = testEnv(GEMINI);
    const id = crypto.randomUUID();
    const stub = workerEnv.CONVERSATIONS.getByName(`default:${id}`);
    const limits = { maxTurns: 100, ttlMs: 3_600_000 };
    const turn = (content: string, files: string[] = []) => ({ role: "user" as const, content, files, images: ["data:image/png (inline)"], tool: "debug", usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 } });
    const fromRows = () =>
      runInDurableObject(stub, (_instance: unknown, state: DurableObjectState) =>
        new ThreadStore({ storage: state.storage, expireAt: () => undefined, deleteAll: () => state.storage.deleteAll() }).read(),
      );
    await stub.create({ threadId: id, team: "default", creatorTool: "debug", initialContext: { prompt: "p" }, title: "t" }, [turn("one", ["/a"])], limits, [
      { path: "/a", content: "A1", tokens: 1 },
      { path: "/b", sha256: "b".repeat(64), tokens: 2 },
    ], { tool: "debug", state: "s1" });
    expect(await stub.read()).toEqual(await fromRows());
    await stub.appendTurns([turn("two", ["/a"]), { ...turn("three"), role: "assistant", provider: "google", model: "m" }], limits, [{ path: "/a", content: "A2", tokens: 3 }], { tool: "analyze", state: "s2" });
    await stub.appendTurns([turn("four")], limits, [], { tool: "debug", state: "s3" });
    const held = await stub.read();
    expect(held).toEqual(await fromRows());
    expect(held?.files.map((file) => file.path)).toEqual(["/b", "/a"]);
    expect(held?.workflows).toEqual({ analyze: "s2", debug: "s3" });
    // Past what the object keeps in memory: read from its rows from then on, alike.
    await stub.appendTurns([turn("x".repeat(300_000))], limits);
    await stub.appendTurns([turn("five")], limits);
    const long = await stub.read();
    expect(long?.turns.map((t) => t.content.slice(0, 5))).toEqual(["one", "two", "three", "four", "xxxxx", "five"]);
    expect(long).toEqual(await fromRows());
  });

  it("stores an exchange of more turns than one statement can bind (a statement takes at most 100 parameters), in order", async () => {
    const workerEnv = testEnv(GEMINI);
    const id = crypto.randomUUID();
    const stub = workerEnv.CONVERSATIONS.getByName(`default:${id}`);
    const limits = { maxTurns: 100, ttlMs: 3_600_000 };
    const turn = (i: number) => ({ role: i % 2 === 0 ? ("user" as const) : ("assistant" as const), content: `turn ${i}`, files: [`/f${i}`], images: [], tool: "consensus" });
    const created = await stub.create({ threadId: id, team: "default", creatorTool: "consensus", initialContext: {}, title: "t" }, Array.from({ length: 11 }, (_, i) => turn(i)), limits);
    expect(created).toMatchObject({ ok: true, turnCount: 11 });
    const appended = await stub.appendTurns(Array.from({ length: 20 }, (_, i) => turn(11 + i)), limits);
    expect(appended).toMatchObject({ ok: true, turnCount: 31 });
    const thread = await stub.read();
    expect(thread?.turnCount).toBe(31);
    expect(thread?.turns.map((t) => [t.index, t.content, t.files[0]])).toEqual(Array.from({ length: 31 }, (_, i) => [i + 1, `turn ${i}`, `/f${i}`]));
    // Past the cap: refused whole, nothing stored.
    expect(await stub.appendTurns(Array.from({ length: 70 }, (_, i) => turn(31 + i)), limits)).toMatchObject({ ok: false, reason: "turn_limit", turnCount: 31 });
    expect((await stub.read())?.turns.length).toBe(31);
  });
  it("aborts the upstream call when the client drops the stream, and stores no turn", async () => {
    mockUpstream();
    const workerEnv = testEnv(GEMINI);
    const first = await chat(workerEnv, { prompt: "start", model: "flash" });
    const id = first.output?.continuation_offer?.continuation_id ?? "";

    vi.restoreAllMocks();
    let upstreamAborted = false;
    let upstreamCalled = false;
    vi.spyOn(globalThis, "fetch").mockImplementation(
      (_input: RequestInfo | URL, init?: RequestInit) =>
        new Promise<Response>((_resolve, reject) => {
          upstreamCalled = true;
          init?.signal?.addEventListener("abort", () => {
            upstreamAborted = true;
            reject(init.signal?.reason);
          });
        }),
    );
    const response = await callWorker(
      mcpPost({ jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "chat", arguments: { prompt: "hang", continuation_id: id } } }),
      workerEnv,
    );
    const reader = response.body!.getReader();
    for (let i = 0; i < 100 && !upstreamCalled; i++) await new Promise((r) => setTimeout(r, 10));
    expect(upstreamCalled).toBe(true);
    await reader.cancel("client went away");
    for (let i = 0; i < 100 && !upstreamAborted; i++) await new Promise((r) => setTimeout(r, 10));
    expect(upstreamAborted).toBe(true);
    const thread = await workerEnv.CONVERSATIONS.getByName(`default:${id}`).read();
    expect(thread?.turnCount).toBe(2);
  });

  it("answers an over-long prompt with resend_prompt", async () => {
    mockUpstream();
    const result = await chat(testEnv({ ...GEMINI, MCP_PROMPT_SIZE_LIMIT: "1000" }), { prompt: "x".repeat(1_001), model: "flash" });
    expect(result.isError).toBe(true);
    expect(JSON.parse(result.text)).toMatchObject({ status: "resend_prompt" });
  });

  it("asks for files the server does not have", async () => {
    mockUpstream();
    const result = await chat(testEnv(GEMINI), { prompt: "review", model: "flash", absolute_file_paths: ["/repo/a.py"] });
    expect(result.output?.status).toBe("files_required_to_continue");
    expect(result.output?.content).toContain("/repo/a.py");
  });

  it("returns generated code as a structured field for code-generating models", async () => {
    mockUpstream(() => "Here you go.\n<GENERATED-CODE>\n<NEWFILE: a.py>\nprint(1)\n</NEWFILE>\n</GENERATED-CODE>");
    const result = await chat(testEnv(GEMINI), { prompt: "write a.py", model: "pro" });
    expect(result.output?.generated_code).toContain("<NEWFILE: a.py>");
    expect(result.output?.content).not.toContain("<GENERATED-CODE>");
  });

  it("tells the assistant how to add a key when no provider is configured", async () => {
    const result = await chat(testEnv(), { prompt: "hello" });
    expect(result.isError).toBe(true);
    expect(result.text).toContain(".dev.vars");
  });
});

describe("exchanges across tools", () => {
  it("lets a different tool continue a chat thread, naming each tool in the history", async () => {
    const sent = mockUpstream(() => "noted");
    const workerEnv = testEnv(GEMINI);
    const first = await chat(workerEnv, { prompt: "We use Postgres 16.", model: "flash" });
    const id = first.output?.continuation_offer?.continuation_id ?? "";

    const config = parseConfig(workerEnv);
    const ctx: ToolContext = {
      env: workerEnv,
      config,
      registry: new ModelRegistry(config, parseProviders(workerEnv)),
      team: "default",
      workspace: "default",
      requestId: "test",
      signal: new AbortController().signal,
      progress: async () => undefined,
      beforeModelCall: async () => undefined,
      waitUntil: () => undefined,
    };
    const outcome = await exchange(ctx, {
      tool: "review",
      category: "extended_reasoning",
      prompt: "Review the migration plan.",
      files: [],
      images: [],
      continuationId: id,
      initialContext: {},
      systemPrompt: () => "You review.",
    });
    expect(outcome.kind).toBe("answered");
    const prompt = promptOf(sent.at(-1)!);
    expect(prompt).toContain("Started by: chat");
    expect(prompt).toContain("(Agent using chat)");
    expect(prompt).toContain("We use Postgres 16.");
    // No model named: the thread's last model carries over, whatever the new tool's category.
    expect(sent.at(-1)?.url).toContain("gemini-3.8-flash");
    const thread = await workerEnv.CONVERSATIONS.getByName(`default:${id}`).read();
    expect(thread?.turns.map((t) => t.tool)).toEqual(["chat", "chat", "review", "review"]);
  });
});
