import { env } from "cloudflare:workers";
import { vi } from "vitest";
import { parseConfig, type Config } from "../../../src/core/config.ts";
import type { Env } from "../../../src/core/env.ts";
import type { CallDeps } from "../../../src/providers/call";
import { parseModelEntry, type ModelCapabilities } from "../../../src/providers/capabilities";
import { parseProviders } from "../../../src/providers/catalog";
import type { GenerateOptions, ProviderConfig, ResolvedModel } from "../../../src/providers/descriptor";
import { ModelRegistry } from "../../../src/providers/registry";
import type { ProviderId } from "../../../src/providers/types";

/** Every provider configured, each at its own fake host. */
export const ALL_PROVIDERS: Record<string, string> = {
  GEMINI_API_KEY: "gemini-secret-key",
  GEMINI_BASE_URL: "https://gemini.test",
  OPENAI_API_KEY: "sk-openai-secret",
  OPENAI_BASE_URL: "https://openai.test/v1",
  XAI_API_KEY: "xai-secret",
  XAI_BASE_URL: "https://xai.test/v1",
  ANTHROPIC_API_KEY: "sk-ant-secret-key",
  ANTHROPIC_BASE_URL: "https://anthropic.test",
  OPENROUTER_API_KEY: "or-secret",
  OPENROUTER_BASE_URL: "https://openrouter.test/api/v1",
  OPENROUTER_REFERER: "https://example.test/app",
  OPENROUTER_TITLE: "Test App",
  DIAL_API_KEY: "dial-secret",
  DIAL_API_HOST: "https://dial.test",
  DIAL_API_VERSION: "2024-12-01-preview",
  CUSTOM_API_URL: "http://ollama.test:11434/v1",
  CUSTOM_MODEL_NAME: "llama3.2",
  AZURE_OPENAI_API_KEY: "azure-secret",
  AZURE_OPENAI_ENDPOINT: "https://res.openai.azure.test",
  AZURE_OPENAI_API_VERSION: "2025-04-01-preview",
  AZURE_MODELS: JSON.stringify([
    { model_name: "gpt-4o", deployment: "prod-gpt4o", context_window: 128000, max_output_tokens: 16384, supports_images: true, max_image_size_mb: 20 },
    { model_name: "gpt-5-codex", deployment: "codex-dep", context_window: 400000, max_output_tokens: 128000, use_openai_response_api: true, supports_temperature: false },
  ]),
};

export function configWith(vars: Record<string, string>): Config {
  return parseConfig(vars);
}

export function registryWith(vars: Record<string, unknown>): ModelRegistry {
  return new ModelRegistry(parseConfig(vars), parseProviders(vars));
}

export function resolve(name: string, vars: Record<string, string> = ALL_PROVIDERS): ResolvedModel {
  return registryWith(vars).resolve(name);
}

export function providerOf(vars: Record<string, string>, id: ProviderId): ProviderConfig {
  const provider = parseProviders(vars).find((p) => p.id === id);
  if (!provider) throw new Error(`${id} is not configured by these vars`);
  return provider;
}

/** A model with capabilities written for the test, served by the given provider. */
export function syntheticModel(provider: ProviderConfig, entry: Record<string, unknown>): ResolvedModel {
  const capabilities: ModelCapabilities = parseModelEntry(provider.id, { context_window: 100_000, max_output_tokens: 8_000, ...entry }, "test");
  return { capabilities, provider, requestedName: capabilities.modelName };
}

export const QUICK: GenerateOptions = { policy: { deadlineMs: 5_000, maxAttempts: 3, baseBackoffMs: 1, maxBackoffMs: 5 } };

/** A request the code under test sent through `fetch`. */
export interface Sent {
  url: URL;
  headers: Headers;
  body: Record<string, unknown>;
}

/** Mocks `fetch` with a sequence of answers (the last repeats), recording each request. */
export function mockFetch(...answers: Array<Response | ((sent: Sent) => Response | Promise<Response>)>): Sent[] {
  const sent: Sent[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const record: Sent = { url: new URL(request.url), headers: request.headers, body: (await request.json()) as Record<string, unknown> };
    sent.push(record);
    const answer = answers[Math.min(sent.length - 1, answers.length - 1)];
    if (answer === undefined) throw new Error("no answer configured");
    if (typeof answer === "function") return answer(record);
    // A Response body can be read once: hand out a copy so the last answer can repeat.
    return answer.clone();
  });
  return sent;
}

export function sseResponse(events: string[]): Response {
  return new Response(events.join(""), { headers: { "content-type": "text/event-stream" } });
}

export const data = (value: unknown): string => `data: ${JSON.stringify(value)}\n\n`;

/**
 * The deps of callModel over the real Durable Object bindings, with deferred work collected:
 * the providers `vars` configure, and `config` (by default also read from `vars`).
 */
export function callDeps(vars: Record<string, unknown>, config: Config = parseConfig(vars)): CallDeps & { settle(): Promise<void> } {
  const pending: Promise<unknown>[] = [];
  // A fresh env object per test gets a fresh in-isolate breaker view.
  const workerEnv: Env = { ...(env as unknown as Env) };
  return {
    env: workerEnv,
    team: "test",
    config,
    registry: new ModelRegistry(config, parseProviders(vars)),
    waitUntil: (promise) => {
      pending.push(promise);
    },
    settle: async () => {
      while (pending.length > 0) await Promise.all(pending.splice(0));
    },
  };
}

// ---- recorded exchanges ----------------------------------------------------------------------

export interface RecordedExchange {
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  responseBody: string;
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function utf8FromBase64(base64: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
}

/** The OpenAI recorder's interactions: the request as sent, the body as received. */
export function openaiExchanges(fixture: unknown): RecordedExchange[] {
  return list(record(fixture)["interactions"]).map((interaction) => {
    const request = record(record(interaction)["request"]);
    const content = record(record(record(interaction)["response"])["content"]);
    const headers = Object.fromEntries(Object.entries(record(request["headers"])).map(([k, v]) => [k.toLowerCase(), String(v)]));
    return { url: String(request["url"]), headers, body: record(request["content"]), responseBody: utf8FromBase64(String(content["data"])) };
  });
}

/** The google-genai replay interactions (one JSON segment each way for a unary call). */
export function geminiExchanges(fixture: unknown): RecordedExchange[] {
  return list(record(fixture)["interactions"]).map((interaction) => {
    const request = record(record(interaction)["request"]);
    const response = record(record(interaction)["response"]);
    const headers = Object.fromEntries(Object.entries(record(request["headers"])).map(([k, v]) => [k.toLowerCase(), String(v)]));
    const segments = list(response["body_segments"]);
    return {
      url: String(request["url"]),
      headers,
      body: record(list(request["body_segments"])[0]),
      responseBody: JSON.stringify(segments.length === 1 ? segments[0] : segments),
    };
  });
}
