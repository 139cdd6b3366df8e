import type { ModelCapabilities } from "./capabilities";
import { keyedProvider, type Generate, type GenerateOptions, type ProviderConfig } from "./descriptor";
import { thinkingBudget } from "./gemini";
import { field, parseEventData, postJson, postStream, truncatedStream, type SseEvent } from "./http";
import models from "./models/anthropic.json";
import { effectiveTemperature, malformed, numberOr, stringOr, userText, wantsStream } from "./openai-compatible";
import { ProviderError, type ModelResponse, type ProviderRequest, type TokenUsage } from "./types";

/** The Messages API version this module speaks (the only one Anthropic has published). */
const API_VERSION = "2023-06-01";
/** The smallest `budget_tokens` the API accepts. */
const MIN_THINKING_BUDGET = 1_024;

const generate: Generate = (provider, resolved, request, options) => {
  const model = resolved.capabilities;
  const stream = wantsStream(model, options);
  const upstream = {
    provider,
    url: `${provider.baseUrl}/v1/messages`,
    headers: { "x-api-key": provider.apiKey, "anthropic-version": API_VERSION },
    body: { ...anthropicRequestBody(model, request), stream },
  };
  if (!stream) return postJson(upstream, options, (json) => finish(provider, parseMessage(provider, model.modelName, json)));
  return postStream(upstream, options, (events) => consumeStream(provider, model.modelName, events, options));
};

function anthropicRequestBody(model: ModelCapabilities, request: ProviderRequest): Record<string, unknown> {
  // The API requires max_tokens; thinking is counted in it.
  const maxTokens = Math.min(model.maxOutputTokens, request.maxOutputTokens ?? model.maxOutputTokens);
  // Images before the text, as Anthropic advises for the best results.
  const content: unknown[] = [
    ...(request.images ?? []).map((image) => ({ type: "image", source: { type: "base64", media_type: image.mediaType, data: image.data } })),
    { type: "text", text: userText(model, request) },
  ];
  const body: Record<string, unknown> = { model: model.modelName, max_tokens: maxTokens, messages: [{ role: "user", content }] };
  if (model.supportsSystemPrompts && request.systemPrompt) body["system"] = request.systemPrompt;
  // The same share of the model's thinking tokens per mode as Gemini's budgets.
  const budget = thinkingBudget(model, request.thinkingMode);
  // budget_tokens must be at least 1,024 and below max_tokens: a cap too small for both goes without thinking.
  const thinking = budget === undefined ? undefined : Math.min(Math.max(budget, MIN_THINKING_BUDGET), maxTokens - 1);
  if (thinking !== undefined && thinking >= MIN_THINKING_BUDGET) {
    // With thinking on, the API refuses any temperature but its default of 1.
    body["thinking"] = { type: "enabled", budget_tokens: thinking };
  } else {
    const temperature = effectiveTemperature(model, request.temperature);
    // Anthropic's temperature range is 0..1, not the 0..2 of the registry's "range" rule.
    if (temperature !== undefined) body["temperature"] = Math.min(1, temperature);
  }
  return body;
}

interface Answer {
  text: string;
  stopReason?: string;
  usage: TokenUsage;
  modelName: string;
}

function usageOf(inputTokens: number, outputTokens: number): TokenUsage {
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

/** Prompt tokens: the uncached ones plus any written to or read from the prompt cache. */
function inputTokensOf(usage: unknown): number {
  return ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"].reduce((sum, name) => sum + numberOr(field(usage, name), 0), 0);
}

/** A whole Message object (the JSON answer). */
function parseMessage(provider: ProviderConfig, requestedModel: string, json: unknown): Answer {
  const content = field(json, "content");
  if (!Array.isArray(content)) throw malformed(provider, "no content");
  // Thinking blocks are the model's scratchpad, not its answer.
  const text = content.filter((block) => field(block, "type") === "text").map((block) => stringOr(field(block, "text"), "")).join("");
  const usage = field(json, "usage");
  return {
    text,
    stopReason: stringOr(field(json, "stop_reason"), "end_turn"),
    usage: usageOf(inputTokensOf(usage), numberOr(field(usage, "output_tokens"), 0)),
    modelName: stringOr(field(json, "model"), requestedModel),
  };
}

function finish(provider: ProviderConfig, answer: Answer): ModelResponse {
  const reason = answer.stopReason ?? "end_turn";
  if (reason === "refusal") {
    throw new ProviderError(provider.id, "safety", `${provider.label} withheld the answer: the model declined for safety reasons (stop reason refusal).`);
  }
  const finishReason = reason === "end_turn" || reason === "stop_sequence" ? "stop" : reason === "max_tokens" ? "length" : reason;
  return { text: answer.text, usage: answer.usage, finishReason, modelName: answer.modelName, provider: provider.id };
}

async function consumeStream(provider: ProviderConfig, modelName: string, events: AsyncIterable<SseEvent>, options: GenerateOptions): Promise<ModelResponse> {
  const answer: Answer = { text: "", usage: usageOf(0, 0), modelName };
  for await (const event of events) {
    const data = parseEventData(provider, event.data);
    switch (stringOr(field(data, "type"), event.event)) {
      case "message_start": {
        const message = field(data, "message");
        answer.modelName = stringOr(field(message, "model"), answer.modelName);
        const usage = field(message, "usage");
        answer.usage = usageOf(inputTokensOf(usage), numberOr(field(usage, "output_tokens"), 0));
        break;
      }
      case "content_block_delta": {
        // thinking_delta and signature_delta belong to thinking blocks: not part of the answer.
        const delta = field(data, "delta");
        if (field(delta, "type") !== "text_delta") break;
        const text = stringOr(field(delta, "text"), "");
        if (text) {
          answer.text += text;
          options.onProgress?.({ outputChars: answer.text.length });
        }
        break;
      }
      case "message_delta": {
        const reason = field(field(data, "delta"), "stop_reason");
        if (typeof reason === "string" && reason) answer.stopReason = reason;
        // The count is cumulative: the last message_delta has the call's output tokens.
        answer.usage = usageOf(answer.usage.inputTokens, numberOr(field(field(data, "usage"), "output_tokens"), answer.usage.outputTokens));
        break;
      }
      case "message_stop":
        return finish(provider, answer);
      case "error": {
        // Sent mid-stream, e.g. overloaded_error: the same call may well succeed again.
        const message = stringOr(field(field(data, "error"), "message"), "no reason given");
        throw new ProviderError(provider.id, "retryable", `${provider.label} reported an error mid-stream: ${message}`);
      }
    }
  }
  throw truncatedStream(provider);
}

/** Anthropic: the Messages API with an `x-api-key` header. */
export const anthropic = keyedProvider({
  id: "anthropic",
  label: "Anthropic",
  title: "Anthropic (Claude)",
  keyVariable: "ANTHROPIC_API_KEY",
  baseUrl: { variable: "ANTHROPIC_BASE_URL", default: "https://api.anthropic.com" },
  allowListVariables: ["ANTHROPIC_ALLOWED_MODELS"],
  models,
  // The catalog writes versions with dots (claude-opus-4.1), the Messages API with dashes (claude-opus-4-1).
  catalogNames: { prefix: "anthropic/", family: /^claude-/i, ownName: (name) => name.replaceAll(".", "-") },
  // The 5.5 generation first; the 4.x entries stay as fallbacks for allow-lists that name them.
  preferredModels: {
    extended_reasoning: ["claude-opus-5-5", "claude-sonnet-5-5", "claude-opus-5", "claude-opus-4-5", "claude-sonnet-4-5"],
    fast_response: ["claude-haiku-5-5", "claude-sonnet-5-5", "claude-haiku-4-5", "claude-sonnet-4-5"],
    balanced: ["claude-sonnet-5-5", "claude-haiku-5-5", "claude-sonnet-4-5", "claude-haiku-4-5"],
  },
  generate,
});
