import { afterEach, describe, expect, it, vi } from "vitest";
import { gemini } from "../../../src/providers/gemini";
import { geminiRequestBody, thinkingBudget } from "../../../src/providers/gemini";
import calculator from "../../fixtures/upstream/gemini/chat_codegen_pro_calculator.json";
import flashNumber from "../../fixtures/upstream/gemini/chat_cross_step1_flash_number.json";
import { ALL_PROVIDERS, QUICK, data, geminiExchanges, mockFetch, providerOf, resolve, sseResponse, syntheticModel } from "./support";

afterEach(() => {
  vi.restoreAllMocks();
});

const google = () => providerOf(ALL_PROVIDERS, "google");

describe("Gemini against recorded exchanges", () => {
  const cases = [
    { name: "gemini-2.5-flash", exchange: geminiExchanges(flashNumber)[0] },
    { name: "gemini-2.5-pro", exchange: geminiExchanges(calculator)[0] },
  ];

  it.each(cases)("rebuilds the $name request as recorded and parses its answer", async ({ name, exchange }) => {
    if (!exchange) throw new Error("fixture without interactions");
    const recordedConfig = exchange.body["generationConfig"] as { temperature: number; thinkingConfig: { thinkingBudget: number } };
    const recordedParts = (exchange.body["contents"] as Array<{ parts: Array<{ text: string }> }>)[0]?.parts ?? [];
    // The original sent its system prompt inside the user text: replay it as the prompt.
    const sent = mockFetch(new Response(exchange.responseBody, { headers: { "content-type": "application/json" } }));
    const response = await gemini.generate(
      google(),
      resolve(name),
      { systemPrompt: "", prompt: recordedParts[0]?.text ?? "", temperature: recordedConfig.temperature, thinkingMode: "medium" },
      QUICK,
    );

    expect(exchange.url).toBe(`{MLDEV_URL_PREFIX}/models/${name}:generateContent`);
    expect(sent[0]?.url.href).toBe(`https://gemini.test/v1beta/models/${name}:generateContent`);
    expect(sent[0]?.headers.get("x-goog-api-key")).toBe("gemini-secret-key");
    expect(sent[0]?.body["contents"]).toEqual([{ role: "user", parts: recordedParts }]);
    expect(sent[0]?.body["generationConfig"]).toEqual(exchange.body["generationConfig"]);
    expect(sent[0]?.body).not.toHaveProperty("systemInstruction");

    const recorded = JSON.parse(exchange.responseBody) as {
      candidates: Array<{ content: { parts: Array<{ text: string }> } }>;
      usageMetadata: { promptTokenCount: number; candidatesTokenCount: number; thoughtsTokenCount: number; totalTokenCount: number };
      modelVersion: string;
    };
    const usage = recorded.usageMetadata;
    expect(response).toEqual({
      text: recorded.candidates[0]?.content.parts.map((p) => p.text).join(""),
      usage: { inputTokens: usage.promptTokenCount, outputTokens: usage.candidatesTokenCount + usage.thoughtsTokenCount, totalTokens: usage.totalTokenCount },
      finishReason: "stop",
      modelName: recorded.modelVersion,
      provider: "google",
    });
    expect(response.usage.inputTokens + response.usage.outputTokens).toBe(response.usage.totalTokens);
  });
});

describe("Gemini request rules", () => {
  it("puts the system prompt in systemInstruction and images in inlineData", () => {
    const body = geminiRequestBody(resolve("flash").capabilities, {
      systemPrompt: "You are terse.",
      prompt: "Describe.",
      images: [{ mediaType: "image/webp", data: "UklGRg==" }],
      temperature: 3,
      maxOutputTokens: 1024,
    });
    expect(body).toEqual({
      contents: [{ role: "user", parts: [{ text: "Describe." }, { inlineData: { mimeType: "image/webp", data: "UklGRg==" } }] }],
      systemInstruction: { parts: [{ text: "You are terse." }] },
      generationConfig: { candidateCount: 1, temperature: 2, maxOutputTokens: 1024 },
    });
  });

  it("prepends the system prompt for a model without system instructions", () => {
    const model = syntheticModel(google(), { model_name: "gemma-x", supports_system_prompts: false });
    const body = geminiRequestBody(model.capabilities, { systemPrompt: "Rules.", prompt: "Go." });
    expect(body["contents"]).toEqual([{ role: "user", parts: [{ text: "Rules.\n\nGo." }] }]);
    expect(body).not.toHaveProperty("systemInstruction");
  });

  it("computes thinking budgets from the model's maximum, only for thinking models", () => {
    const modes = ["minimal", "low", "medium", "high", "max"] as const;
    expect(modes.map((mode) => thinkingBudget(resolve("gemini-2.5-pro").capabilities, mode))).toEqual([163, 2621, 10813, 21954, 32768]);
    expect(modes.map((mode) => thinkingBudget(resolve("gemini-2.5-flash").capabilities, mode))).toEqual([122, 1966, 8110, 16465, 24576]);
    expect(thinkingBudget(resolve("gemini-2.0-flash-lite").capabilities, "high")).toBeUndefined();
    expect(thinkingBudget(resolve("gemini-2.5-flash").capabilities, undefined)).toBeUndefined();
    const lite = geminiRequestBody(resolve("gemini-2.0-flash-lite").capabilities, { systemPrompt: "", prompt: "x", thinkingMode: "max" });
    expect(lite["generationConfig"]).toEqual({ candidateCount: 1 });
  });

  it("sends the Gemini 3.x models no thinking budget: their pages give levels, not a token range", () => {
    for (const name of ["pro", "flash", "flash-lite"]) {
      const model = resolve(name).capabilities;
      expect(model.supportsExtendedThinking, name).toBe(true);
      const body = geminiRequestBody(model, { systemPrompt: "", prompt: "x", thinkingMode: "max", temperature: 0.5 });
      expect(body["generationConfig"], name).toEqual({ candidateCount: 1, temperature: 0.5 });
    }
  });

  it("raises gemini-3-pro-preview's medium thinking to high", () => {
    const pro3 = resolve("gemini-3-pro-preview").capabilities;
    expect(thinkingBudget(pro3, "medium")).toBe(thinkingBudget(pro3, "high"));
    expect(thinkingBudget(pro3, "low")).toBe(2621);
  });

  it("skips thought parts and counts thought tokens as output", async () => {
    mockFetch(
      Response.json({
        candidates: [{ content: { role: "model", parts: [{ text: "pondering…", thought: true }, { text: "42" }] }, finishReason: "STOP" }],
        usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 2, thoughtsTokenCount: 30, totalTokenCount: 42 },
        modelVersion: "gemini-2.5-flash",
      }),
    );
    const response = await gemini.generate(google(), resolve("flash"), { systemPrompt: "", prompt: "x" }, QUICK);
    expect(response.text).toBe("42");
    expect(response.usage).toEqual({ inputTokens: 10, outputTokens: 32, totalTokens: 42 });
  });

  it("maps MAX_TOKENS to length", async () => {
    mockFetch(Response.json({ candidates: [{ content: { parts: [{ text: "cut" }] }, finishReason: "MAX_TOKENS" }] }));
    const response = await gemini.generate(google(), resolve("flash"), { systemPrompt: "", prompt: "x" }, QUICK);
    expect(response.finishReason).toBe("length");
  });

  it.each(["SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "RECITATION"])("turns finish reason %s into a safety error", async (reason) => {
    const sent = mockFetch(Response.json({ candidates: [{ finishReason: reason, index: 0 }] }));
    await expect(gemini.generate(google(), resolve("flash"), { systemPrompt: "", prompt: "x" }, QUICK)).rejects.toMatchObject({
      kind: "safety",
      provider: "google",
      message: expect.stringContaining(reason),
    });
    expect(sent).toHaveLength(1);
  });

  it("turns a blocked prompt (promptFeedback.blockReason) into a safety error", async () => {
    mockFetch(Response.json({ promptFeedback: { blockReason: "PROHIBITED_CONTENT" } }));
    await expect(gemini.generate(google(), resolve("flash"), { systemPrompt: "", prompt: "x" }, QUICK)).rejects.toMatchObject({ kind: "safety" });
  });

  it("streams over alt=sse with progress, ending on the chunk with a finish reason", async () => {
    const chunk = (text: string, extra: Record<string, unknown> = {}) =>
      data({ candidates: [{ content: { role: "model", parts: [{ text }] }, index: 0, ...extra }], modelVersion: "gemini-2.5-pro" });
    const sent = mockFetch(
      sseResponse([
        chunk("Hel"),
        chunk("lo", { finishReason: "STOP" }).replace("}\n\n", `,"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2,"totalTokenCount":7}}\n\n`),
      ]),
    );
    const progress: number[] = [];
    const response = await gemini.generate(google(), resolve("gemini-2.5-pro"), { systemPrompt: "", prompt: "x" }, { ...QUICK, onProgress: (p) => progress.push(p.outputChars) });
    expect(sent[0]?.url.href).toBe("https://gemini.test/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse");
    expect(response).toEqual({ text: "Hello", usage: { inputTokens: 5, outputTokens: 2, totalTokens: 7 }, finishReason: "stop", modelName: "gemini-2.5-pro", provider: "google" });
    expect(progress).toEqual([3, 5]);
  });

  it("retries a stream that closes before a finish reason", async () => {
    const sent = mockFetch(
      sseResponse([data({ candidates: [{ content: { parts: [{ text: "half" }] } }] })]),
      sseResponse([data({ candidates: [{ content: { parts: [{ text: "whole" }] }, finishReason: "STOP" }] })]),
    );
    const response = await gemini.generate(google(), resolve("flash"), { systemPrompt: "", prompt: "x" }, { ...QUICK, onProgress: () => undefined });
    expect(sent).toHaveLength(2);
    expect(response.text).toBe("whole");
  });
});
