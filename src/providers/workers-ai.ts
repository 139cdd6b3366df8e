import { z } from "zod";
import type { WorkersAiBinding, WorkersAiChatInput } from "../core/env";
import type { ModelCapabilities } from "./capabilities";
import { settingsFrom, type Generate, type GenerateOptions, type ProviderConfig, type ProviderDescriptor } from "./descriptor";
import { classifyStatus, field, parseEventData, readSse, truncatedStream, withRetries, type SseEvent } from "./http";
import models from "./models/workers-ai.json";
import { effectiveTemperature, malformed, stringOr, usageOf, userText, wantsStream } from "./openai-compatible";
import { ProviderError, type ProviderRequest, type ModelResponse, type TokenUsage } from "./types";

// Workers AI exists only where the `AI` binding does: it is declared in wrangler.toml's deploy
// environments, never at the top level, because `wrangler dev` cannot serve it offline and would not start.

/**
 * The HTTP status Cloudflare documents for each error code of the binding, which throws
 * "<code>: <description>" and keeps the status to itself. 5006 (the input fails the model's
 * schema) is missing from the table but is what invalid input gets.
 */
const CODE_STATUS: Readonly<Record<string, number>> = {
  "3003": 400,
  "3006": 413,
  "3007": 408,
  "3008": 408,
  "3023": 403,
  "3036": 429,
  "3039": 400,
  "3040": 429,
  "3041": 403,
  "3042": 404,
  "5004": 400,
  "5005": 405,
  "5006": 400,
  "5007": 400,
  "5016": 403,
  "5018": 403,
  "5019": 405,
};
/** The account's daily free allocation is spent: a 429 that no retry today can fix. */
const DAILY_ALLOCATION_SPENT = "3036";
const CONTEXT_WINDOW = /context window/i;
const MESSAGE_LIMIT = 500;

const generate: Generate = (provider, resolved, request, options) => {
  const binding = options.ai;
  if (!binding) {
    const message = `This deploy has no Workers AI binding: add an [env.<team>.ai] block with binding = "AI" to wrangler.toml and deploy again.`;
    return Promise.reject(new ProviderError(provider.id, "final", message));
  }
  const model = resolved.capabilities;
  const stream = wantsStream(model, options);
  const input = chatInput(model, request, stream);
  return withRetries(provider, options, async (signal) => {
    const result = await run(provider, binding, model.modelName, input, signal);
    if (!stream) return parseAnswer(provider, model.modelName, input.max_tokens, result);
    if (!(result instanceof ReadableStream)) throw malformed(provider, "no stream for a streamed call");
    return consumeStream(provider, model.modelName, input.max_tokens, readSse(readUntilAborted(result, signal)), options);
  });
};

export function chatInput(model: ModelCapabilities, request: ProviderRequest, stream: boolean): WorkersAiChatInput {
  const messages: WorkersAiChatInput["messages"] = [];
  if (model.supportsSystemPrompts && request.systemPrompt) messages.push({ role: "system", content: request.systemPrompt });
  messages.push({ role: "user", content: userText(model, request) });
  const input: WorkersAiChatInput = { messages, max_tokens: Math.min(request.maxOutputTokens ?? model.maxOutputTokens, model.maxOutputTokens), stream };
  const temperature = effectiveTemperature(model, request.temperature);
  if (temperature !== undefined) input.temperature = temperature;
  return input;
}

/**
 * Calls the binding until `signal` aborts. The binding takes no signal, so a call given up on
 * runs on unobserved; a stream it opens after all is cancelled.
 */
async function run(provider: ProviderConfig, binding: WorkersAiBinding, model: string, input: WorkersAiChatInput, signal: AbortSignal): Promise<unknown> {
  signal.throwIfAborted();
  const call = binding.run(model, input);
  try {
    return await unlessAborted(call, signal);
  } catch (error) {
    if (!signal.aborted) throw runError(provider, error);
    call.then(release, () => undefined);
    throw error;
  }
}

function release(result: unknown): void {
  if (result instanceof ReadableStream) result.cancel().catch(() => undefined);
}

/**
 * The stream's bytes until `signal` aborts: then reading fails with the abort's reason and the
 * source is cancelled. (In workerd a pipe's own `signal` option does not reach a reader further
 * down the pipe chain, so each read is raced instead.)
 */
function readUntilAborted(source: ReadableStream<Uint8Array>, signal: AbortSignal): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await unlessAborted(reader.read(), signal);
        if (chunk.done) controller.close();
        else controller.enqueue(chunk.value);
      } catch (error) {
        reader.cancel(error).catch(() => undefined);
        throw error;
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** Settles as `promise` does, or rejects with the abort's reason when `signal` aborts first. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** An error thrown by the binding, classified by its code: capacity and timeouts are retried, bad input is final. */
export function runError(provider: ProviderConfig, error: unknown): ProviderError {
  const text = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim();
  const code = /^(?:\w*Error:\s*)*(\d{4}):/.exec(text)?.[1];
  const status = code === undefined ? undefined : CODE_STATUS[code];
  // No code, or one Cloudflare does not document: an upstream fault, like a 5xx.
  const kind = code === DAILY_ALLOCATION_SPENT || CONTEXT_WINDOW.test(text) ? "final" : classifyStatus(status ?? 500, text);
  const shown = text.length > MESSAGE_LIMIT ? `${text.slice(0, MESSAGE_LIMIT)}…` : text;
  return new ProviderError(provider.id, kind, `${provider.label} failed: ${shown || "no message"}`, status);
}

function parseAnswer(provider: ProviderConfig, modelName: string, maxTokens: number, result: unknown): ModelResponse {
  if (result === null || typeof result !== "object" || result instanceof ReadableStream) throw malformed(provider, "not a JSON answer");
  return answer(provider, modelName, maxTokens, stringOr(field(result, "response"), ""), usageOf(field(result, "usage")));
}

async function consumeStream(
  provider: ProviderConfig,
  modelName: string,
  maxTokens: number,
  events: AsyncIterable<SseEvent>,
  options: GenerateOptions,
): Promise<ModelResponse> {
  let text = "";
  let usage: TokenUsage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  for await (const event of events) {
    if (event.data.trim() === "[DONE]") return answer(provider, modelName, maxTokens, text, usage);
    const chunk = parseEventData(provider, event.data);
    const piece = stringOr(field(chunk, "response"), "");
    if (piece) {
      text += piece;
      options.onProgress?.({ outputChars: text.length });
    }
    const chunkUsage = field(chunk, "usage");
    if (chunkUsage !== undefined) usage = usageOf(chunkUsage);
  }
  throw truncatedStream(provider);
}

/** Workers AI names no finish reason: an answer that used its whole token allowance was cut short. */
function answer(provider: ProviderConfig, modelName: string, maxTokens: number, text: string, usage: TokenUsage): ModelResponse {
  return { text, usage, finishReason: usage.outputTokens >= maxTokens ? "length" : "stop", modelName, provider: provider.id };
}

/**
 * Cloudflare Workers AI, on the deploy's `AI` binding: present means configured, there is no key.
 * Resolved last, so a key the operator set wins over it.
 */
export const workersAi: ProviderDescriptor = {
  id: "workers-ai",
  label: "Workers AI",
  title: "Cloudflare Workers AI (AI binding, no key)",
  keyVariable: "the AI binding",
  requiredVariables: [],
  baseUrl: null,
  allowListVariables: ["WORKERS_AI_ALLOWED_MODELS"],
  settings: settingsFrom({ AI: z.unknown().optional() }, {}, () => ({ apiKey: "", baseUrl: "" })),
  models,
  generate,
};
