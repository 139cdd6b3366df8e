import type { ModelCapabilities } from "./capabilities";
import type { GenerateOptions, ProviderConfig, ResolvedModel } from "./descriptor";
import { classifyStatus, field, parseEventData, postJson, postStream, truncatedStream, type SseEvent } from "./http";
import { ProviderError, type ImageData, type ProviderRequest, type ModelResponse, type TokenUsage } from "./types";

/** Where and how one provider takes a Chat Completions call. */
export interface ChatEndpoint {
  url: string;
  headers: Record<string, string>;
  /** The `model` field: the model name, an Azure deployment, or Ollama's `name:tag`. */
  model: string;
  /** OpenAI's reasoning models reject `max_tokens`; most other vendors only know `max_tokens`. */
  maxTokensField: "max_tokens" | "max_completion_tokens";
}

const DISCRETE_TEMPERATURES = [0, 0.3, 0.7, 1, 1.5, 2];

/**
 * The temperature to send, corrected to what the model accepts, or undefined to send none.
 * Shared by every provider (Gemini included): it is the registry's rule, not a wire detail.
 */
export function effectiveTemperature(model: ModelCapabilities, requested: number | undefined): number | undefined {
  if (!model.supportsTemperature || requested === undefined || !Number.isFinite(requested)) return undefined;
  switch (model.temperatureConstraint) {
    case "fixed":
      return 1;
    case "discrete":
      return DISCRETE_TEMPERATURES.reduce((best, t) => (Math.abs(t - requested) < Math.abs(best - requested) ? t : best));
    case "range":
      return Math.min(2, Math.max(0, requested));
  }
}

export function bearer(apiKey: string): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}

export function dataUrl(image: ImageData): string {
  return `data:${image.mediaType};base64,${image.data}`;
}

/** The user text, with the system prompt in front for models that take no system role. */
export function userText(model: ModelCapabilities, request: ProviderRequest): string {
  if (model.supportsSystemPrompts || !request.systemPrompt) return request.prompt;
  return `${request.systemPrompt}\n\n${request.prompt}`;
}

/** Streaming is worth it only when someone watches the progress, and only if the model streams. */
export function wantsStream(model: ModelCapabilities, options: GenerateOptions): boolean {
  return model.supportsStreaming && options.onProgress !== undefined;
}

export function chatRequestBody(endpoint: ChatEndpoint, model: ModelCapabilities, request: ProviderRequest, stream: boolean): Record<string, unknown> {
  const messages: unknown[] = [];
  if (model.supportsSystemPrompts && request.systemPrompt) messages.push({ role: "system", content: request.systemPrompt });
  const text = userText(model, request);
  const images = request.images ?? [];
  messages.push({
    role: "user",
    content:
      images.length === 0
        ? text
        : [{ type: "text", text }, ...images.map((image) => ({ type: "image_url", image_url: { url: dataUrl(image) } }))],
  });
  const body: Record<string, unknown> = { model: endpoint.model, messages, stream };
  if (stream) body["stream_options"] = { include_usage: true };
  // Reasoning models without temperature also refuse a token cap: both go, as the original did.
  const temperature = effectiveTemperature(model, request.temperature);
  if (temperature !== undefined) body["temperature"] = temperature;
  if (model.supportsTemperature && request.maxOutputTokens !== undefined) body[endpoint.maxTokensField] = request.maxOutputTokens;
  return body;
}

/** One Chat Completions call: plain JSON, or SSE when progress is wanted. */
export function generateChat(endpoint: ChatEndpoint, resolved: ResolvedModel, request: ProviderRequest, options: GenerateOptions): Promise<ModelResponse> {
  const { provider } = resolved;
  const model = resolved.capabilities;
  const stream = wantsStream(model, options);
  const upstream = { provider, url: endpoint.url, headers: endpoint.headers, body: chatRequestBody(endpoint, model, request, stream) };
  if (!stream) return postJson(upstream, options, (json) => parseChatCompletion(provider, model.modelName, json));
  return postStream(upstream, options, (events) => consumeChatStream(provider, model.modelName, events, options));
}

export function parseChatCompletion(provider: ProviderConfig, requestedModel: string, json: unknown): ModelResponse {
  failOnEmbeddedError(provider, json);
  const choices = field(json, "choices");
  const choice: unknown = Array.isArray(choices) ? choices[0] : undefined;
  if (choice === undefined) throw malformed(provider, "no choices");
  const message = field(choice, "message");
  const finishReason = normaliseFinish(provider, field(choice, "finish_reason"));
  const text = contentText(field(message, "content")) || stringOr(field(message, "refusal"), "");
  return {
    text,
    usage: usageOf(field(json, "usage")),
    finishReason,
    modelName: stringOr(field(json, "model"), requestedModel),
    provider: provider.id,
  };
}

async function consumeChatStream(
  provider: ProviderConfig,
  requestedModel: string,
  events: AsyncIterable<SseEvent>,
  options: GenerateOptions,
): Promise<ModelResponse> {
  let text = "";
  let finish: string | undefined;
  let usage: TokenUsage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  let modelName = requestedModel;
  let done = false;
  for await (const event of events) {
    if (event.data.trim() === "[DONE]") {
      done = true;
      break;
    }
    const chunk = parseEventData(provider, event.data);
    failOnEmbeddedError(provider, chunk);
    modelName = stringOr(field(chunk, "model"), modelName);
    const choices = field(chunk, "choices");
    const choice: unknown = Array.isArray(choices) ? choices[0] : undefined;
    const delta = contentText(field(field(choice, "delta"), "content"));
    if (delta) {
      text += delta;
      options.onProgress?.({ outputChars: text.length });
    }
    const reason = field(choice, "finish_reason");
    if (typeof reason === "string" && reason) finish = reason;
    const chunkUsage = field(chunk, "usage");
    if (chunkUsage) usage = usageOf(chunkUsage);
  }
  // The finish reason is the answer's last word; usage and [DONE] after it are a courtesy.
  if (!done && finish === undefined) throw truncatedStream(provider);
  return { text, usage, finishReason: normaliseFinish(provider, finish ?? "stop"), modelName, provider: provider.id };
}

function normaliseFinish(provider: ProviderConfig, reason: unknown): string {
  const value = typeof reason === "string" && reason ? reason : "stop";
  if (value === "content_filter") {
    throw new ProviderError(provider.id, "safety", `${provider.label} withheld the answer: its content filter blocked the request or the reply.`);
  }
  return value;
}

/**
 * OpenRouter and some proxies answer 200 with `{"error": …}`, also in the middle of a stream; its
 * numeric code, when given, is classified like an HTTP status.
 */
function failOnEmbeddedError(provider: ProviderConfig, json: unknown): void {
  const error = field(json, "error");
  if (error === undefined || error === null) return;
  const message = stringOr(field(error, "message"), typeof error === "string" ? error : "unknown error");
  const code = field(error, "code");
  const kind = typeof code === "number" ? classifyStatus(code, message) : "retryable";
  throw new ProviderError(provider.id, kind, `${provider.label} reported an error: ${message}`, typeof code === "number" ? code : undefined);
}

export function malformed(provider: ProviderConfig, what: string): ProviderError {
  return new ProviderError(provider.id, "retryable", `${provider.label} sent a malformed response (${what}).`);
}

/** A string content, or the text parts of a content array. */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((part) => stringOr(field(part, "text"), "")).join("");
}

export function usageOf(usage: unknown): TokenUsage {
  const inputTokens = numberOr(field(usage, "prompt_tokens") ?? field(usage, "input_tokens"), 0);
  const outputTokens = numberOr(field(usage, "completion_tokens") ?? field(usage, "output_tokens"), 0);
  return { inputTokens, outputTokens, totalTokens: numberOr(field(usage, "total_tokens"), inputTokens + outputTokens) };
}

export function stringOr(value: unknown, fallback: string): string {
  return typeof value === "string" && value !== "" ? value : fallback;
}

export function numberOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}
