import { afterEach, describe, expect, it, vi } from "vitest";
import { openai } from "../../../src/providers/openai";
import { effectiveTemperature } from "../../../src/providers/openai-compatible";
import { ProviderError } from "../../../src/providers/types";
import continuation from "../../fixtures/upstream/openai/chat_gpt5_continuation.json";
import moon from "../../fixtures/upstream/openai/chat_gpt5_moon_distance.json";
import consensus from "../../fixtures/upstream/openai/consensus_step1_gpt5_for.json";
import { ALL_PROVIDERS, QUICK, data, mockFetch, openaiExchanges, providerOf, resolve, sseResponse, syntheticModel } from "./support";

afterEach(() => {
  vi.restoreAllMocks();
});

const openaiProvider = () => providerOf(ALL_PROVIDERS, "openai");

describe("OpenAI Chat Completions against recorded exchanges", () => {
  const exchanges = [...openaiExchanges(moon), ...openaiExchanges(continuation), ...openaiExchanges(consensus)];

  it.each(exchanges.map((exchange, index) => [index, exchange] as const))("rebuilds request %i as recorded and parses its answer", async (_, exchange) => {
    const messages = exchange.body["messages"] as Array<{ role: string; content: string }>;
    const system = messages.find((m) => m.role === "system")?.content ?? "";
    const prompt = messages.find((m) => m.role === "user")?.content ?? "";
    const sent = mockFetch(new Response(exchange.responseBody, { headers: { "content-type": "application/json" } }));

    const response = await openai.generate(openaiProvider(), resolve("gpt-5"), { systemPrompt: system, prompt, temperature: 0.5 }, QUICK);

    expect(sent).toHaveLength(1);
    expect(sent[0]?.url.href).toBe("https://openai.test/v1/chat/completions");
    expect(sent[0]?.headers.get("authorization")).toBe("Bearer sk-openai-secret");
    expect(sent[0]?.headers.get("content-type")).toBe("application/json");
    // gpt-5's temperature is fixed at 1.0: the requested 0.5 is corrected, as in the recordings.
    expect(sent[0]?.body).toEqual(exchange.body);

    const recorded = JSON.parse(exchange.responseBody) as {
      model: string;
      choices: Array<{ message: { content: string }; finish_reason: string }>;
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    };
    expect(response).toEqual({
      text: recorded.choices[0]?.message.content,
      usage: { inputTokens: recorded.usage.prompt_tokens, outputTokens: recorded.usage.completion_tokens, totalTokens: recorded.usage.total_tokens },
      finishReason: "stop",
      modelName: recorded.model,
      provider: "openai",
    });
    expect(response.modelName).toMatch(/^gpt-5-\d{4}/);
  });
});

describe("OpenAI Chat Completions request rules", () => {
  it("streams with usage when progress is wanted and the model streams, reporting progress", async () => {
    const chunk = (choices: unknown[], usage: unknown = null) => data({ id: "c", object: "chat.completion.chunk", model: "gpt-4.1-2025-04-14", choices, usage });
    const sent = mockFetch(
      sseResponse([
        chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]),
        chunk([{ index: 0, delta: { content: "Hello, " }, finish_reason: null }]),
        chunk([{ index: 0, delta: { content: "world" }, finish_reason: null }]),
        chunk([{ index: 0, delta: {}, finish_reason: "stop" }]),
        chunk([], { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 }),
        "data: [DONE]\n\n",
      ]),
    );
    const progress: number[] = [];
    const response = await openai.generate(
      openaiProvider(),
      resolve("gpt-4.1"),
      { systemPrompt: "sys", prompt: "hi", temperature: 0.2, maxOutputTokens: 500 },
      { ...QUICK, onProgress: (p) => progress.push(p.outputChars) },
    );
    expect(sent[0]?.body).toMatchObject({ model: "gpt-4.1", stream: true, stream_options: { include_usage: true }, temperature: 0.2, max_completion_tokens: 500 });
    expect(sent[0]?.body).not.toHaveProperty("max_tokens");
    expect(response).toEqual({
      text: "Hello, world",
      usage: { inputTokens: 12, outputTokens: 3, totalTokens: 15 },
      finishReason: "stop",
      modelName: "gpt-4.1-2025-04-14",
      provider: "openai",
    });
    expect(progress).toEqual([7, 12]);
  });

  it("does not stream a model that cannot, even when progress is wanted", async () => {
    const sent = mockFetch(Response.json({ model: "gpt-5", choices: [{ message: { content: "ok" }, finish_reason: "stop" }], usage: {} }));
    await openai.generate(openaiProvider(), resolve("gpt-5"), { systemPrompt: "", prompt: "hi" }, { ...QUICK, onProgress: () => undefined });
    expect(sent[0]?.body["stream"]).toBe(false);
    expect(sent[0]?.body).not.toHaveProperty("stream_options");
  });

  it("omits temperature and the token cap for models without temperature (o3)", async () => {
    const sent = mockFetch(Response.json({ model: "o3", choices: [{ message: { content: "ok" }, finish_reason: "stop" }] }));
    await openai.generate(openaiProvider(), resolve("o3"), { systemPrompt: "s", prompt: "p", temperature: 0.7, maxOutputTokens: 100 }, QUICK);
    expect(sent[0]?.body).not.toHaveProperty("temperature");
    expect(sent[0]?.body).not.toHaveProperty("max_completion_tokens");
    expect(sent[0]?.body).not.toHaveProperty("max_tokens");
  });

  it("corrects temperatures per constraint: fixed, range, discrete, unsupported", () => {
    const provider = openaiProvider();
    const fixed = resolve("gpt-5").capabilities;
    const range = resolve("gpt-4.1").capabilities;
    const discrete = syntheticModel(provider, { model_name: "d", temperature_constraint: "discrete" }).capabilities;
    const none = resolve("o4-mini").capabilities;
    expect(effectiveTemperature(fixed, 0.2)).toBe(1);
    expect(effectiveTemperature(range, 2.7)).toBe(2);
    expect(effectiveTemperature(range, -1)).toBe(0);
    expect(effectiveTemperature(range, 0.65)).toBe(0.65);
    expect([0.1, 0.2, 0.55, 1.2, 1.3, 9].map((t) => effectiveTemperature(discrete, t))).toEqual([0, 0.3, 0.7, 1, 1.5, 2]);
    expect(effectiveTemperature(none, 0.5)).toBeUndefined();
    expect(effectiveTemperature(range, undefined)).toBeUndefined();
  });

  it("sends images as data URLs after the text", async () => {
    const sent = mockFetch(Response.json({ choices: [{ message: { content: "a cat" }, finish_reason: "stop" }] }));
    await openai.generate(openaiProvider(), resolve("gpt-4.1"), { systemPrompt: "s", prompt: "what is it?", images: [{ mediaType: "image/png", data: "iVBORw0KGgo=" }] }, QUICK);
    const messages = sent[0]?.body["messages"] as Array<{ role: string; content: unknown }>;
    expect(messages[0]).toEqual({ role: "system", content: "s" });
    expect(messages[1]).toEqual({
      role: "user",
      content: [
        { type: "text", text: "what is it?" },
        { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
      ],
    });
  });

  it("puts the system prompt in front of the user text for models without a system role", async () => {
    const model = syntheticModel(openaiProvider(), { model_name: "no-system", supports_system_prompts: false });
    const sent = mockFetch(Response.json({ choices: [{ message: { content: "ok" }, finish_reason: "stop" }] }));
    await openai.generate(openaiProvider(), model, { systemPrompt: "Be brief.", prompt: "Why?" }, QUICK);
    expect(sent[0]?.body["messages"]).toEqual([{ role: "user", content: "Be brief.\n\nWhy?" }]);
  });

  it("turns a content-filter finish into a safety error", async () => {
    mockFetch(Response.json({ choices: [{ message: { content: null }, finish_reason: "content_filter" }] }));
    const error = await openai.generate(openaiProvider(), resolve("gpt-4.1"), { systemPrompt: "", prompt: "x" }, QUICK).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ kind: "safety", provider: "openai" });
  });

  it("retries a stream that ends before its finish reason", async () => {
    const cut = sseResponse([data({ choices: [{ index: 0, delta: { content: "partial" }, finish_reason: null }] })]);
    const whole = sseResponse([data({ choices: [{ index: 0, delta: { content: "whole" }, finish_reason: "stop" }] }), "data: [DONE]\n\n"]);
    const sent = mockFetch(cut, whole);
    const response = await openai.generate(openaiProvider(), resolve("gpt-4.1"), { systemPrompt: "", prompt: "x" }, { ...QUICK, onProgress: () => undefined });
    expect(sent).toHaveLength(2);
    expect(response.text).toBe("whole");
  });
});

describe("OpenAI Responses API", () => {
  const completed = {
    id: "resp_1",
    object: "response",
    model: "gpt-5-pro-2025-10-06",
    status: "completed",
    output: [
      { type: "reasoning", id: "rs_1", summary: [] },
      { type: "message", id: "msg_1", role: "assistant", content: [{ type: "output_text", text: "Deep answer.", annotations: [] }] },
    ],
    usage: { input_tokens: 40, output_tokens: 300, total_tokens: 340, output_tokens_details: { reasoning_tokens: 290 } },
  };

  it("posts input messages with the model's reasoning effort and parses the output", async () => {
    const sent = mockFetch(Response.json(completed));
    const response = await openai.generate(
      openaiProvider(),
      resolve("gpt-5-pro"),
      { systemPrompt: "You review code.", prompt: "Review this.", temperature: 0.3, maxOutputTokens: 2000, images: [{ mediaType: "image/jpeg", data: "AAAA" }] },
      QUICK,
    );
    expect(sent[0]?.url.href).toBe("https://openai.test/v1/responses");
    expect(sent[0]?.headers.get("authorization")).toBe("Bearer sk-openai-secret");
    expect(sent[0]?.body).toEqual({
      model: "gpt-5-pro",
      input: [
        { role: "developer", content: [{ type: "input_text", text: "You review code." }] },
        {
          role: "user",
          content: [
            { type: "input_text", text: "Review this." },
            { type: "input_image", image_url: "data:image/jpeg;base64,AAAA" },
          ],
        },
      ],
      reasoning: { effort: "high" },
      store: false,
      stream: false,
      max_output_tokens: 2000,
    });
    expect(response).toEqual({
      text: "Deep answer.",
      usage: { inputTokens: 40, outputTokens: 300, totalTokens: 340 },
      finishReason: "stop",
      modelName: "gpt-5-pro-2025-10-06",
      provider: "openai",
    });
  });

  it("defaults the effort to medium when the model names none", async () => {
    const sent = mockFetch(Response.json(completed));
    await openai.generate(openaiProvider(), resolve("o3-pro"), { systemPrompt: "", prompt: "x" }, QUICK);
    expect(sent[0]?.body["reasoning"]).toEqual({ effort: "medium" });
  });

  it("streams output_text deltas up to response.completed", async () => {
    const event = (type: string, body: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...body })}\n\n`;
    const sent = mockFetch(
      sseResponse([
        event("response.created", { response: { ...completed, status: "in_progress", output: [] } }),
        event("response.output_text.delta", { delta: "Deep " }),
        event("response.output_text.delta", { delta: "answer." }),
        event("response.completed", { response: completed }),
      ]),
    );
    const progress: number[] = [];
    const response = await openai.generate(openaiProvider(), resolve("gpt-5-codex"), { systemPrompt: "", prompt: "x" }, { ...QUICK, onProgress: (p) => progress.push(p.outputChars) });
    expect(sent[0]?.body["stream"]).toBe(true);
    expect(progress).toEqual([5, 12]);
    expect(response.text).toBe("Deep answer.");
    expect(response.usage.totalTokens).toBe(340);
  });

  it("reports an incomplete answer as cut by length, and a content filter as safety", async () => {
    mockFetch(
      Response.json({ ...completed, status: "incomplete", incomplete_details: { reason: "max_output_tokens" } }),
      Response.json({ ...completed, status: "incomplete", incomplete_details: { reason: "content_filter" }, output: [] }),
    );
    const cut = await openai.generate(openaiProvider(), resolve("gpt-5-pro"), { systemPrompt: "", prompt: "x" }, QUICK);
    expect(cut.finishReason).toBe("length");
    await expect(openai.generate(openaiProvider(), resolve("gpt-5-pro"), { systemPrompt: "", prompt: "x" }, QUICK)).rejects.toMatchObject({ kind: "safety" });
  });
});
