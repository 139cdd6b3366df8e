import type { ThinkingMode } from "../core/config";
import type { ModelCapabilities } from "./capabilities";
import { keyedProvider, type Generate, type GenerateOptions, type ProviderConfig } from "./descriptor";
import { field, parseEventData, postJson, postStream, truncatedStream, type SseEvent } from "./http";
import models from "./models/gemini.json";
import { effectiveTemperature, malformed, numberOr, stringOr, userText, wantsStream } from "./openai-compatible";
import { ProviderError, type ProviderRequest, type ModelResponse, type TokenUsage } from "./types";

/** Share of a model's thinking tokens per mode (the original's factors). */
const THINKING_SHARE: Record<ThinkingMode, number> = { minimal: 0.005, low: 0.08, medium: 0.33, high: 0.67, max: 1 };

/** Finish reasons meaning the answer was withheld by policy, not cut or finished. */
const BLOCKED = new Set(["SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "RECITATION", "SPII", "IMAGE_SAFETY"]);

const generate: Generate = (provider, resolved, request, options) => {
  const model = resolved.capabilities;
  const stream = wantsStream(model, options);
  const base = `${provider.baseUrl}/v1beta/models/${encodeURIComponent(model.modelName)}`;
  const upstream = {
    provider,
    url: stream ? `${base}:streamGenerateContent?alt=sse` : `${base}:generateContent`,
    headers: { "x-goog-api-key": provider.apiKey },
    body: geminiRequestBody(model, request),
  };
  if (!stream) {
    return postJson(upstream, options, (json) => {
      const answer = absorb(provider, newAnswer(model.modelName), json);
      if (answer.finishReason === undefined && !answer.sawCandidate) throw malformed(provider, "no candidates");
      return finish(provider, answer);
    });
  }
  return postStream(upstream, options, (events) => consumeStream(provider, model.modelName, events, options));
};

/**
 * The thinking budget for a mode, or undefined for models without thinking. Truncated, not
 * rounded, so 32,768 tokens give the original's 163 / 2,621 / 10,813 / 21,954 / 32,768.
 * Entries without max_thinking_tokens (the Gemini 3.x models after 3 Pro Preview, whose pages
 * give thinking levels, not a token range) get no budget and think at their default level.
 */
export function thinkingBudget(model: ModelCapabilities, mode: ThinkingMode | undefined): number | undefined {
  if (mode === undefined || !model.supportsExtendedThinking || model.maxThinkingTokens <= 0) return undefined;
  // Gemini 3 Pro thinks poorly on a medium budget; the original raised it to high.
  const effective = model.modelName === "gemini-3-pro-preview" && mode === "medium" ? "high" : mode;
  return Math.floor(model.maxThinkingTokens * THINKING_SHARE[effective]);
}

export function geminiRequestBody(model: ModelCapabilities, request: ProviderRequest): Record<string, unknown> {
  const parts: unknown[] = [{ text: userText(model, request) }];
  for (const image of request.images ?? []) parts.push({ inlineData: { mimeType: image.mediaType, data: image.data } });
  const generationConfig: Record<string, unknown> = { candidateCount: 1 };
  const temperature = effectiveTemperature(model, request.temperature);
  if (temperature !== undefined) generationConfig["temperature"] = temperature;
  if (request.maxOutputTokens !== undefined) generationConfig["maxOutputTokens"] = request.maxOutputTokens;
  const budget = thinkingBudget(model, request.thinkingMode);
  if (budget !== undefined) generationConfig["thinkingConfig"] = { thinkingBudget: budget };
  return {
    contents: [{ role: "user", parts }],
    ...(model.supportsSystemPrompts && request.systemPrompt ? { systemInstruction: { parts: [{ text: request.systemPrompt }] } } : {}),
    generationConfig,
  };
}

interface Answer {
  text: string;
  finishReason?: string;
  usage: TokenUsage;
  modelName: string;
  sawCandidate: boolean;
}

function newAnswer(modelName: string): Answer {
  return { text: "", usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 }, modelName, sawCandidate: false };
}

/** Folds one generateContent response (the whole answer, or one streamed chunk) into `answer`. */
function absorb(provider: ProviderConfig, answer: Answer, json: unknown): Answer {
  const { label } = provider;
  const error = field(json, "error");
  if (error !== undefined) {
    throw new ProviderError(provider.id, "retryable", `${label} reported an error: ${stringOr(field(error, "message"), "unknown error")}`);
  }
  const blockReason = field(field(json, "promptFeedback"), "blockReason");
  if (typeof blockReason === "string" && blockReason) {
    throw new ProviderError(provider.id, "safety", `${label} blocked the prompt for safety reasons (${blockReason}).`);
  }
  const candidates = field(json, "candidates");
  const candidate: unknown = Array.isArray(candidates) ? candidates[0] : undefined;
  if (candidate !== undefined) {
    answer.sawCandidate = true;
    const parts = field(field(candidate, "content"), "parts");
    for (const part of Array.isArray(parts) ? parts : []) {
      // Thought summaries are the model's scratchpad, not its answer.
      if (field(part, "thought") === true) continue;
      answer.text += stringOr(field(part, "text"), "");
    }
    const reason = field(candidate, "finishReason");
    if (typeof reason === "string" && reason) answer.finishReason = reason;
  }
  const usage = field(json, "usageMetadata");
  if (usage !== undefined) {
    const inputTokens = numberOr(field(usage, "promptTokenCount"), 0);
    // Thinking is billed as output, and it is what a reasoning budget is spent on.
    const outputTokens = numberOr(field(usage, "candidatesTokenCount"), 0) + numberOr(field(usage, "thoughtsTokenCount"), 0);
    answer.usage = { inputTokens, outputTokens, totalTokens: numberOr(field(usage, "totalTokenCount"), inputTokens + outputTokens) };
  }
  answer.modelName = stringOr(field(json, "modelVersion"), answer.modelName);
  return answer;
}

function finish(provider: ProviderConfig, answer: Answer): ModelResponse {
  const reason = answer.finishReason ?? "STOP";
  if (BLOCKED.has(reason)) {
    throw new ProviderError(provider.id, "safety", `${provider.label} withheld the answer for safety reasons (finish reason ${reason}).`);
  }
  const finishReason = reason === "STOP" ? "stop" : reason === "MAX_TOKENS" ? "length" : reason.toLowerCase();
  return { text: answer.text, usage: answer.usage, finishReason, modelName: answer.modelName, provider: provider.id };
}

async function consumeStream(provider: ProviderConfig, modelName: string, events: AsyncIterable<SseEvent>, options: GenerateOptions): Promise<ModelResponse> {
  const answer = newAnswer(modelName);
  for await (const event of events) {
    const before = answer.text.length;
    absorb(provider, answer, parseEventData(provider, event.data));
    if (answer.text.length > before) options.onProgress?.({ outputChars: answer.text.length });
  }
  // Gemini streams end by closing the connection; only the last chunk carries a finish reason.
  if (answer.finishReason === undefined) throw truncatedStream(provider);
  return finish(provider, answer);
}

/** Google Gemini: generateContent with an `x-goog-api-key` header. */
export const gemini = keyedProvider({
  id: "google",
  label: "Gemini",
  title: "Google Gemini",
  keyVariable: "GEMINI_API_KEY",
  baseUrl: { variable: "GEMINI_BASE_URL", default: "https://generativelanguage.googleapis.com" },
  allowListVariables: ["GOOGLE_ALLOWED_MODELS"],
  models,
  catalogNames: { prefix: "google/", family: /^(gemini|gemma)-/i },
  // Google's current models only: the 2.x and 3 Pro Preview entries are past the shutdown dates
  // Google lists, and stay for users who name them.
  preferredModels: {
    extended_reasoning: ["gemini-3.1-pro-preview", "gemini-3.8-flash"],
    fast_response: ["gemini-3.8-flash", "gemini-3.5-flash-lite"],
    balanced: ["gemini-3.8-flash", "gemini-3.1-pro-preview"],
  },
  generate,
});
