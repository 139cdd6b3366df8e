import type { ModelCapabilities } from "./capabilities";
import { keyedProvider, type Generate, type GenerateOptions, type ProviderConfig, type ResolvedModel } from "./descriptor";
import { field, parseEventData, postJson, postStream, truncatedStream, type SseEvent } from "./http";
import models from "./models/openai.json";
import {
  bearer,
  dataUrl,
  generateChat,
  malformed,
  stringOr,
  usageOf,
  userText,
  wantsStream,
} from "./openai-compatible";
import { ProviderError, type ProviderRequest, type ModelResponse } from "./types";

/** Where a Responses API call goes (OpenAI, or an Azure resource). */
export interface ResponsesEndpoint {
  url: string;
  headers: Record<string, string>;
  model: string;
}

const generate: Generate = (provider, model, request, options) => {
  const headers = bearer(provider.apiKey);
  const name = model.capabilities.modelName;
  if (model.capabilities.useResponsesApi) {
    return generateResponses({ url: `${provider.baseUrl}/responses`, headers, model: name }, model, request, options);
  }
  return generateChat({ url: `${provider.baseUrl}/chat/completions`, headers, model: name, maxTokensField: "max_completion_tokens" }, model, request, options);
};

export function responsesRequestBody(endpoint: ResponsesEndpoint, model: ModelCapabilities, request: ProviderRequest, stream: boolean): Record<string, unknown> {
  const input: unknown[] = [];
  // Reasoning models take instructions as a developer message (the successor of the system role).
  if (model.supportsSystemPrompts && request.systemPrompt) {
    input.push({ role: "developer", content: [{ type: "input_text", text: request.systemPrompt }] });
  }
  input.push({
    role: "user",
    content: [
      { type: "input_text", text: userText(model, request) },
      ...(request.images ?? []).map((image) => ({ type: "input_image", image_url: dataUrl(image) })),
    ],
  });
  const body: Record<string, unknown> = {
    model: endpoint.model,
    input,
    reasoning: { effort: model.defaultReasoningEffort ?? "medium" },
    // The original stored responses (store: true). Nothing here reads them back (no
    // previous_response_id: threads live in our own Durable Objects), so storing would only keep
    // users' prompts and code at the vendor for no benefit.
    store: false,
    stream,
  };
  if (request.maxOutputTokens !== undefined) body["max_output_tokens"] = request.maxOutputTokens;
  return body;
}

export function generateResponses(
  endpoint: ResponsesEndpoint,
  resolved: ResolvedModel,
  request: ProviderRequest,
  options: GenerateOptions,
): Promise<ModelResponse> {
  const { provider } = resolved;
  const model = resolved.capabilities;
  const stream = wantsStream(model, options);
  const upstream = { provider, url: endpoint.url, headers: endpoint.headers, body: responsesRequestBody(endpoint, model, request, stream) };
  if (!stream) return postJson(upstream, options, (json) => parseResponse(provider, model.modelName, json));
  return postStream(upstream, options, (events) => consumeResponsesStream(provider, model.modelName, events, options));
}

/** A Responses API `response` object; `streamedText` stands in when it carries no output. */
export function parseResponse(provider: ProviderConfig, requestedModel: string, json: unknown, streamedText?: string): ModelResponse {
  const { label } = provider;
  const status = field(json, "status");
  if (status === "failed") {
    const message = stringOr(field(field(json, "error"), "message"), "no reason given");
    throw new ProviderError(provider.id, "retryable", `${label} failed to generate a response: ${message}`);
  }
  const incomplete = field(field(json, "incomplete_details"), "reason");
  if (incomplete === "content_filter") {
    throw new ProviderError(provider.id, "safety", `${label} withheld the answer: its content filter blocked the request or the reply.`);
  }
  const output = field(json, "output");
  if (!Array.isArray(output) && streamedText === undefined) throw malformed(provider, "no output");
  const text = outputText(json) || streamedText || "";
  const finishReason = status === "incomplete" ? (incomplete === "max_output_tokens" ? "length" : stringOr(incomplete, "incomplete")) : "stop";
  return { text, usage: usageOf(field(json, "usage")), finishReason, modelName: stringOr(field(json, "model"), requestedModel), provider: provider.id };
}

/** `output_text` when the server adds it, else the text of the message items (refusals included). */
function outputText(json: unknown): string {
  const convenience = field(json, "output_text");
  if (typeof convenience === "string" && convenience) return convenience;
  const output = field(json, "output");
  if (!Array.isArray(output)) return "";
  return output
    .filter((item) => field(item, "type") === "message")
    .flatMap((item) => {
      const content = field(item, "content");
      return Array.isArray(content) ? content : [];
    })
    .map((part) => stringOr(field(part, "text"), stringOr(field(part, "refusal"), "")))
    .join("");
}

async function consumeResponsesStream(
  provider: ProviderConfig,
  requestedModel: string,
  events: AsyncIterable<SseEvent>,
  options: GenerateOptions,
): Promise<ModelResponse> {
  let text = "";
  for await (const event of events) {
    const data = parseEventData(provider, event.data);
    switch (stringOr(field(data, "type"), event.event)) {
      case "response.output_text.delta": {
        const delta = field(data, "delta");
        if (typeof delta === "string" && delta) {
          text += delta;
          options.onProgress?.({ outputChars: text.length });
        }
        break;
      }
      case "response.completed":
      case "response.incomplete":
      case "response.failed":
        return parseResponse(provider, requestedModel, field(data, "response"), text);
      case "error": {
        const message = stringOr(field(data, "message"), "no reason given");
        throw new ProviderError(provider.id, "retryable", `${provider.label} reported an error mid-stream: ${message}`);
      }
    }
  }
  throw truncatedStream(provider);
}

/** OpenAI: Chat Completions, or the Responses API for the models that need it, with a bearer key. */
export const openai = keyedProvider({
  id: "openai",
  label: "OpenAI",
  title: "OpenAI",
  keyVariable: "OPENAI_API_KEY",
  baseUrl: { variable: "OPENAI_BASE_URL", default: "https://api.openai.com/v1" },
  allowListVariables: ["OPENAI_ALLOWED_MODELS"],
  models,
  catalogNames: { prefix: "openai/", family: /^(gpt-|chatgpt-|codex-|o\d)/i },
  // Current models first; gpt-5-codex (shut down) and gpt-5.1 (deprecated) are named by users only.
  preferredModels: {
    extended_reasoning: ["gpt-5.5", "gpt-5.6-sol", "gpt-5.4", "gpt-5.1-codex", "gpt-5-pro", "o3-pro", "gpt-5", "o3"],
    fast_response: ["gpt-5.4-mini", "gpt-5.6-luna", "gpt-5.1-codex-mini", "gpt-5-mini", "o4-mini", "o3-mini"],
    balanced: ["gpt-5.4", "gpt-5.4-mini", "gpt-5.1-codex-mini", "gpt-5", "gpt-5-mini", "o4-mini", "o3-mini"],
  },
  generate,
});
