import { afterEach, describe, expect, it, vi } from "vitest";
import { anthropic } from "../../../src/providers/anthropic";
import { ProviderError } from "../../../src/providers/types";
import recorded from "../../fixtures/upstream/anthropic/messages_haiku_json_sonnet_thinking_stream.json";
import { connectClient, testEnv } from "../helpers";
import { QUICK, mockFetch, providerOf, resolve, sseResponse } from "./support";

afterEach(() => {
  vi.restoreAllMocks();
});

const ANTHROPIC = { ANTHROPIC_API_KEY: "sk-ant-secret-key", ANTHROPIC_BASE_URL: "https://anthropic.test" };
const provider = () => providerOf(ANTHROPIC, "anthropic");
const claude = (name: string) => resolve(name, ANTHROPIC);

const event = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

/** A streamed Messages answer as the API sends it: a thinking block first when asked for. */
function messageStream(text: string, { thinking, stopReason = "end_turn" }: { thinking?: string; stopReason?: string } = {}): Response {
  const blocks = thinking === undefined ? [] : [
    event("content_block_start", { index: 0, content_block: { type: "thinking", thinking: "", signature: "" } }),
    event("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking } }),
    event("content_block_delta", { index: 0, delta: { type: "signature_delta", signature: "sig" } }),
    event("content_block_stop", { index: 0 }),
  ];
  const index = blocks.length > 0 ? 1 : 0;
  return sseResponse([
    event("message_start", { message: { id: "msg_1", type: "message", role: "assistant", content: [], model: "claude-sonnet-4-5-20250929", stop_reason: null, usage: { input_tokens: 20, output_tokens: 1 } } }),
    ...blocks,
    event("content_block_start", { index, content_block: { type: "text", text: "" } }),
    event("content_block_delta", { index, delta: { type: "text_delta", text } }),
    event("content_block_stop", { index }),
    event("message_delta", { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: 30 } }),
    event("message_stop", {}),
  ]);
}

interface Interaction {
  request: { url: string; headers: Record<string, string>; body: Record<string, unknown> };
  response: { headers: Record<string, string>; body: unknown };
}

describe("Anthropic Messages API against the documented shapes", () => {
  const [json, streamed] = recorded.interactions as unknown as [Interaction, Interaction];

  const replay = (interaction: Interaction) => {
    const body = interaction.response.body;
    return mockFetch(new Response(typeof body === "string" ? body : JSON.stringify(body), { headers: interaction.response.headers }));
  };
  const expectRecordedRequest = (sent: ReturnType<typeof mockFetch>, interaction: Interaction) => {
    expect(sent).toHaveLength(1);
    expect(sent[0]?.url.href).toBe("https://anthropic.test/v1/messages");
    expect(sent[0]?.headers.get("x-api-key")).toBe("sk-ant-secret-key");
    expect(sent[0]?.headers.get("anthropic-version")).toBe(interaction.request.headers["anthropic-version"]);
    expect(sent[0]?.headers.get("content-type")).toBe("application/json");
    expect(sent[0]?.body).toEqual(interaction.request.body);
  };
  const userText = (interaction: Interaction) => ((interaction.request.body["messages"] as Array<{ content: Array<{ text: string }> }>)[0]?.content[0]?.text ?? "");

  it("sends a plain call as recorded (system, max_tokens, temperature) and parses the Message", async () => {
    const sent = replay(json);
    const response = await anthropic.generate(provider(), claude("claude-haiku-4-5"), { systemPrompt: String(json.request.body["system"]), prompt: userText(json), temperature: 0.5 }, QUICK);
    expectRecordedRequest(sent, json);
    expect(response).toEqual({
      text: (json.response.body as { content: Array<{ text: string }> }).content[0]?.text,
      usage: { inputTokens: 41, outputTokens: 52, totalTokens: 93 },
      finishReason: "stop",
      modelName: "claude-haiku-4-5-20251001",
      provider: "anthropic",
    });
  });

  it("streams with a thinking budget as recorded: no temperature, thinking text not in the answer", async () => {
    const sent = replay(streamed);
    const progress: number[] = [];
    const response = await anthropic.generate(
      provider(),
      claude("claude-sonnet-4-5"),
      { systemPrompt: String(streamed.request.body["system"]), prompt: userText(streamed), temperature: 0.3, thinkingMode: "low" },
      { ...QUICK, onProgress: (p) => progress.push(p.outputChars) },
    );
    // claude-sonnet-4-5 thinks up to 32,000 tokens: low is 8 % of it.
    expectRecordedRequest(sent, streamed);
    expect(response).toEqual({
      text: "Yes: the retry loop sleeps past the deadline when Retry-After is longer than the time left.",
      usage: { inputTokens: 48, outputTokens: 97, totalTokens: 145 },
      finishReason: "stop",
      modelName: "claude-sonnet-4-5-20250929",
      provider: "anthropic",
    });
    expect(progress).toEqual([5, 20, 45, 72, 91]);
  });
});

describe("Anthropic request rules", () => {
  it("sends images as base64 blocks before the text", async () => {
    const sent = mockFetch(Response.json({ model: "claude-sonnet-4-5", content: [{ type: "text", text: "a cat" }], stop_reason: "end_turn", usage: {} }));
    await anthropic.generate(provider(), claude("claude-sonnet-4-5"), { systemPrompt: "s", prompt: "what is it?", images: [{ mediaType: "image/png", data: "iVBORw0KGgo=" }] }, QUICK);
    expect(sent[0]?.body["messages"]).toEqual([
      {
        role: "user",
        content: [
          { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
          { type: "text", text: "what is it?" },
        ],
      },
    ]);
  });

  it("keeps the temperature within 0..1, and sends none with thinking or without a thinking budget that fits", async () => {
    const sent = mockFetch(Response.json({ content: [{ type: "text", text: "ok" }], stop_reason: "end_turn" }));
    const call = (request: { temperature?: number; thinkingMode?: "minimal" | "max"; maxOutputTokens?: number }) =>
      anthropic.generate(provider(), claude("claude-opus-4-5"), { systemPrompt: "", prompt: "p", ...request }, QUICK);
    await call({ temperature: 1.7 });
    await call({ temperature: 0.2, thinkingMode: "max" });
    await call({ temperature: 0.2, thinkingMode: "minimal", maxOutputTokens: 4_000 });
    await call({ temperature: 0.2, thinkingMode: "max", maxOutputTokens: 800 });
    expect(sent.map((s) => [s.body["temperature"], s.body["thinking"], s.body["max_tokens"]])).toEqual([
      [1, undefined, 64_000],
      [undefined, { type: "enabled", budget_tokens: 32_000 }, 64_000],
      // minimal is 160 tokens: raised to the API's minimum of 1,024.
      [undefined, { type: "enabled", budget_tokens: 1_024 }, 4_000],
      // No budget of at least 1,024 fits below max_tokens 800: no thinking, the temperature stays.
      [0.2, undefined, 800],
    ]);
    expect(sent[0]?.body).not.toHaveProperty("system");
  });

  it("sends the 5.x models neither a thinking budget nor a temperature: they think adaptively and refuse both", async () => {
    const sent = mockFetch(Response.json({ content: [{ type: "text", text: "ok" }], stop_reason: "end_turn" }));
    for (const name of ["claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-5", "claude-sonnet-5"]) {
      await anthropic.generate(provider(), claude(name), { systemPrompt: "s", prompt: "p", temperature: 0.3, thinkingMode: "max" }, QUICK);
    }
    expect(sent.map((s) => s.body["model"])).toEqual(["claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-5", "claude-sonnet-5"]);
    for (const { body } of sent) {
      expect(body).not.toHaveProperty("thinking");
      expect(body).not.toHaveProperty("temperature");
      expect(body).toMatchObject({ max_tokens: 128_000, system: "s" });
    }
  });
});

describe("Anthropic failures", () => {
  const call = (options = QUICK) => anthropic.generate(provider(), claude("claude-sonnet-4-5"), { systemPrompt: "", prompt: "x" }, options).catch((e: unknown) => e);
  const overloaded = () =>
    Response.json({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }, { status: 529 });

  it("retries 529 overloaded and a 429 after its retry-after", async () => {
    const sent = mockFetch(
      overloaded(),
      Response.json({ type: "error", error: { type: "rate_limit_error", message: "Rate limited" } }, { status: 429, headers: { "retry-after": "0" } }),
      Response.json({ content: [{ type: "text", text: "ok" }], stop_reason: "end_turn" }),
    );
    expect(await call()).toMatchObject({ text: "ok" });
    expect(sent).toHaveLength(3);
  });

  it("gives up on 529 as retryable, and does not retry 400, 401 or 403, never echoing the key", async () => {
    mockFetch(overloaded());
    expect(await call()).toMatchObject({ kind: "retryable", status: 529, message: expect.stringContaining("Overloaded") });
    for (const status of [400, 401, 403]) {
      vi.restoreAllMocks();
      const sent = mockFetch(Response.json({ type: "error", error: { type: "authentication_error", message: "invalid x-api-key sk-ant-secret-key" } }, { status }));
      const error = await call();
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ kind: "final", status });
      expect((error as ProviderError).message).not.toContain("sk-ant-secret-key");
      expect(sent).toHaveLength(1);
    }
  });

  it("turns a refusal into a safety error, streamed or not", async () => {
    mockFetch(Response.json({ content: [], stop_reason: "refusal" }));
    expect(await call()).toMatchObject({ kind: "safety", provider: "anthropic" });
    vi.restoreAllMocks();
    mockFetch(messageStream("", { stopReason: "refusal" }));
    expect(await call({ ...QUICK, onProgress: () => undefined })).toMatchObject({ kind: "safety", message: expect.stringContaining("withheld the answer") });
  });

  it("retries a stream that reports an error or ends before message_stop", async () => {
    const cut = sseResponse([event("message_start", { message: { usage: { input_tokens: 3 } } }), event("content_block_delta", { index: 0, delta: { type: "text_delta", text: "part" } })]);
    const failing = sseResponse([event("error", { error: { type: "overloaded_error", message: "Overloaded" } })]);
    const sent = mockFetch(cut, failing, messageStream("whole"));
    const response = await call({ ...QUICK, onProgress: () => undefined });
    expect(sent).toHaveLength(3);
    expect(response).toMatchObject({ text: "whole", usage: { inputTokens: 20, outputTokens: 30, totalTokens: 50 } });
  });
});

describe("Claude as the second opinion, through the tools", () => {
  async function call(name: string, args: Record<string, unknown>, workerEnv = testEnv(ANTHROPIC)) {
    const client = await connectClient(workerEnv);
    const result = await client.callTool({ name, arguments: args });
    await client.close();
    const text = (result.content as Array<{ text: string }>)[0]?.text ?? "";
    expect(result.isError, text).not.toBe(true);
    return JSON.parse(text) as Record<string, any>;
  }

  it("chat asks Claude by its alias, streamed, with an image", async () => {
    const sent = mockFetch(messageStream("Claude's view.", { thinking: "scratch" }));
    const result = await call("chat", { prompt: "Review this diagram", model: "claude", images: ["data:image/png;base64,iVBORw0KGgo="] });
    expect(result).toMatchObject({ status: "continuation_available", content: expect.stringContaining("Claude's view.") });
    expect(result["content"]).not.toContain("scratch");
    expect(sent).toHaveLength(1);
    expect(sent[0]?.body).toMatchObject({ model: "claude-sonnet-5-5", stream: true });
    const content = (sent[0]?.body["messages"] as Array<{ content: Array<{ type: string }> }>)[0]?.content;
    expect(content?.map((block) => block.type)).toEqual(["image", "text"]);
  });

  it("a workflow's expert (thinkdeep) is Claude Opus 4.5 with the thinking budget of its mode", async () => {
    const sent = mockFetch(messageStream("Shard by tenant.", { thinking: "long deliberation" }));
    const result = await call("thinkdeep", {
      step: "Should we shard?",
      step_number: 1,
      total_steps: 1,
      next_step_required: false,
      findings: "One table is hot.",
      model: "opus-4.5",
      thinking_mode: "low",
    });
    expect(JSON.stringify(result)).toContain("Shard by tenant.");
    expect(JSON.stringify(result)).not.toContain("long deliberation");
    expect(sent[0]?.body).toMatchObject({ model: "claude-opus-4-5", thinking: { type: "enabled", budget_tokens: 2_560 } });
    expect(sent[0]?.body).not.toHaveProperty("temperature");
  });

  it("consensus consults Claude panelists in turn", async () => {
    const sent = mockFetch(messageStream("Verdict: worth it."));
    const workerEnv = testEnv(ANTHROPIC);
    const first = await call(
      "consensus",
      {
        step: "Move the job queue to Postgres",
        step_number: 1,
        total_steps: 2,
        next_step_required: true,
        findings: "Postgres is already a dependency.",
        models: [
          { model: "claude", stance: "for" },
          { model: "haiku", stance: "against" },
        ],
      },
      workerEnv,
    );
    expect(first).toMatchObject({ model_response: { status: "success", model: "claude" } });
    expect(JSON.stringify(first["model_response"])).toContain("Verdict: worth it.");
    const last = await call("consensus", { step: "Noted.", step_number: 2, total_steps: 2, next_step_required: false, findings: "", continuation_id: first["continuation_id"] }, workerEnv);
    expect(last).toMatchObject({ consensus_complete: true, complete_consensus: { models_consulted: ["claude:for", "haiku:against"], total_responses: 2 } });
    expect(sent.map((s) => s.body["model"])).toEqual(["claude-sonnet-5-5", "claude-haiku-5-5"]);
  });
});
