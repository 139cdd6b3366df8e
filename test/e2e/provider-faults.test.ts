// The provider modules over real HTTP against the fake upstream: every fault the upstream can
// throw ends in a ProviderError of the right kind, or in a successful retry; never another exception.
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig, type Config } from "../../src/core/config.ts";
import type { Env } from "../../src/core/env.ts";
import { callModel, chooseModel, type CallDeps, type CallOptions, type CallResult, type ModelChoice } from "../../src/providers/call";
import { parseProviders } from "../../src/providers/catalog";
import type { GenerateOptions, ProviderConfig } from "../../src/providers/descriptor";
import { gemini } from "../../src/providers/gemini";
import { openai } from "../../src/providers/openai";
import { ModelRegistry } from "../../src/providers/registry";
import { ProviderError, type ModelRequest, type ModelResponse, type ProviderId } from "../../src/providers/types";
import { defaultReply, type FakeUpstream } from "../fake-upstream/server.ts";
import { e2eStack } from "../support/e2e-stack.ts";

/** Chooses the model as a tool would, then calls it. */
async function chooseAndCall(deps: CallDeps, choice: ModelChoice, request: ModelRequest, options?: CallOptions): Promise<CallResult> {
  return callModel(deps, await chooseModel(deps, choice), request, options);
}


const KEY = "sk-e2e-secret-key-000";
let up: FakeUpstream;
let config: Config;
let registry: ModelRegistry;

const stack = e2eStack();

beforeAll(async () => {
  up = await stack.upstream();
  const vars = {
    OPENAI_API_KEY: KEY,
    OPENAI_BASE_URL: `${up.url}/v1`,
    GEMINI_API_KEY: KEY,
    GEMINI_BASE_URL: up.url,
    PROVIDER_MAX_ATTEMPTS: "3",
    PROVIDER_CALL_DEADLINE_SECONDS: "10",
  };
  config = parseConfig(vars);
  registry = new ModelRegistry(config, parseProviders(vars));
});
beforeEach(() => {
  up.reset();
});

const request = { systemPrompt: "You answer briefly.", prompt: "Name a prime number.", temperature: 0.5 } satisfies ModelRequest;
const policy = { deadlineMs: 8_000, maxAttempts: 3, baseBackoffMs: 5, maxBackoffMs: 20 };
const plain: GenerateOptions = { policy };
const streaming: GenerateOptions = { policy, onProgress: () => undefined };

function provider(id: ProviderId): ProviderConfig {
  const found = registry.providers.find((p) => p.id === id);
  if (!found) throw new Error(`${id} not configured`);
  return found;
}

const callOpenAI = (model: string, options: GenerateOptions = plain): Promise<ModelResponse> =>
  openai.generate(provider("openai"), registry.resolve(model), request, options);
const callGemini = (model: string, options: GenerateOptions = plain): Promise<ModelResponse> =>
  gemini.generate(provider("google"), registry.resolve(model), request, options);

/** The call's failure, which must be a ProviderError. */
async function failureOf(call: Promise<unknown>): Promise<ProviderError> {
  const outcome = await call.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(ProviderError);
  return outcome as ProviderError;
}

async function untilNothingInFlight(): Promise<number> {
  for (let i = 0; i < 50 && up.inFlight() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 40));
  return up.inFlight();
}

describe("successful calls over HTTP", () => {
  it("replays a recorded OpenAI exchange", async () => {
    up.replay("openai/chat_gpt5_moon_distance");
    const response = await callOpenAI("gpt-5");
    expect(response.text).toContain("384,400 km");
    expect(response).toMatchObject({ modelName: "gpt-5-2025-08-07", provider: "openai", finishReason: "stop" });
    const [sent] = up.requests();
    expect(sent).toMatchObject({ path: "/v1/chat/completions", kind: "openai-chat", model: "gpt-5" });
    expect(sent?.headers["authorization"]).toBe(`Bearer ${KEY}`);
  });

  it("replays a recorded Gemini exchange", async () => {
    up.replay("gemini/chat_cross_step1_flash_number");
    const response = await callGemini("gemini-2.5-flash");
    expect(response).toMatchObject({ text: "7", modelName: "gemini-2.5-flash", usage: { inputTokens: 1085, outputTokens: 64, totalTokens: 1149 } });
    expect(up.requests()[0]?.headers["x-goog-api-key"]).toBe(KEY);
  });

  it.each([
    ["Chat Completions", "gpt-4.1", "openai-chat"],
    ["Responses API", "gpt-5-codex", "openai-responses"],
  ] as const)("streams %s with progress", async (_, model, kind) => {
    const progress: number[] = [];
    const response = await callOpenAI(model, { policy, onProgress: (p) => progress.push(p.outputChars) });
    const sent = up.requests()[0];
    expect(sent).toMatchObject({ kind, stream: true });
    expect(response.text).toBe(defaultReply(kind, model, sent?.body));
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toBe(response.text.length);
  });

  it("streams Gemini over SSE", async () => {
    const response = await callGemini("gemini-2.5-pro", streaming);
    const sent = up.requests()[0];
    expect(sent).toMatchObject({ kind: "gemini", stream: true, query: { alt: "sse" } });
    expect(response.text).toBe(defaultReply("gemini", "gemini-2.5-pro", sent?.body));
    expect(response.finishReason).toBe("stop");
  });
});

describe("HTTP status classes", () => {
  it.each([500, 502, 503, 504, 429])("retries a %i and succeeds", async (status) => {
    up.fault({ status, times: 1 });
    const response = await callOpenAI("gpt-4.1");
    expect(response.text).toMatch(/^fake:gpt-4\.1:/);
    expect(up.requests()).toHaveLength(2);
  });

  it("gives up on a persistent 503 after maxAttempts, as retryable", async () => {
    up.fault({ status: 503, kind: "gemini", times: "always" });
    const error = await failureOf(callGemini("flash"));
    expect(error).toMatchObject({ kind: "retryable", status: 503, provider: "google" });
    expect(error.message).toContain("Gemini returned HTTP 503: fake upstream error 503");
    expect(up.requests()).toHaveLength(3);
  });

  it.each([400, 401, 403, 404])("does not retry a %i", async (status) => {
    up.fault({ status, times: "always" });
    const error = await failureOf(callOpenAI("gpt-4.1"));
    expect(error).toMatchObject({ kind: "final", status });
    expect(error.message).toContain(`OpenAI returned HTTP ${status}`);
    expect(error.message).not.toContain(KEY);
    expect(up.requests()).toHaveLength(1);
  });

  it("does not retry a quota 429", async () => {
    up.fault({ status: 429, body: JSON.stringify({ error: { message: "You exceeded your current quota.", code: "insufficient_quota" } }), times: "always" });
    const error = await failureOf(callOpenAI("gpt-4.1"));
    expect(error).toMatchObject({ kind: "final", status: 429 });
    expect(up.requests()).toHaveLength(1);
  });

  it("does not retry a context-length error", async () => {
    up.fault({ status: 400, body: JSON.stringify({ error: { message: "maximum context length is 8192 tokens", code: "context_length_exceeded" } }) });
    const error = await failureOf(callOpenAI("gpt-4.1"));
    expect(error).toMatchObject({ kind: "final" });
    expect(error.message).toContain("maximum context length");
  });
});

describe("Retry-After and deadlines", () => {
  it("waits the Retry-After seconds before retrying", async () => {
    up.fault({ status: 429, retryAfter: 1, kind: "gemini" });
    const started = Date.now();
    await callGemini("flash");
    const requests = up.requests();
    expect(requests).toHaveLength(2);
    expect((requests[1]?.receivedAt ?? 0) - (requests[0]?.receivedAt ?? 0)).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("does not sleep past the deadline for a long Retry-After", async () => {
    up.fault({ status: 503, retryAfter: 30, times: "always" });
    const started = Date.now();
    const error = await failureOf(callOpenAI("gpt-4.1", { policy: { ...policy, deadlineMs: 2_000 } }));
    expect(error).toMatchObject({ kind: "retryable", status: 503, retryAfterMs: 30_000 });
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(up.requests()).toHaveLength(1);
  });

  it("stops a slow upstream at the deadline, as retryable, and releases the connection", async () => {
    up.fault({ delayMs: 20_000, times: "always" });
    const started = Date.now();
    const error = await failureOf(callOpenAI("gpt-4.1", { policy: { ...policy, deadlineMs: 400 } }));
    expect(error).toMatchObject({ kind: "retryable", message: expect.stringContaining("within 0.4 s") });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await untilNothingInFlight()).toBe(0);
  });

  it("cancels a hung call when the caller aborts, and releases the connection", async () => {
    up.fault({ hang: true, kind: "gemini" });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const error = await failureOf(callGemini("flash", { ...plain, signal: controller.signal }));
    expect(error).toMatchObject({ kind: "aborted", provider: "google" });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(up.requests()).toHaveLength(1);
    expect(await untilNothingInFlight()).toBe(0);
  });

  it("cancels a stream in progress when the caller aborts", async () => {
    up.setLatency({ chunkDelayMs: 300 });
    const controller = new AbortController();
    const error = await failureOf(
      callOpenAI("gpt-4.1", {
        policy,
        signal: controller.signal,
        onProgress: () => controller.abort(),
      }),
    );
    expect(error.kind).toBe("aborted");
    expect(await untilNothingInFlight()).toBe(0);
  });
});

describe("broken connections and bodies", () => {
  it("retries a connection reset", async () => {
    up.fault({ reset: true });
    const response = await callOpenAI("gpt-4.1");
    expect(response.text).toMatch(/^fake:/);
    expect(up.requests()).toHaveLength(2);
  });

  it("reports persistent resets as retryable", async () => {
    up.fault({ reset: true, times: "always" });
    const error = await failureOf(callGemini("flash"));
    expect(error.kind).toBe("retryable");
    expect(up.requests()).toHaveLength(3);
  });

  it("retries malformed JSON, and reports it when it persists", async () => {
    up.fault({ malformed: true });
    await expect(callOpenAI("gpt-4.1")).resolves.toMatchObject({ provider: "openai" });
    up.reset();
    up.fault({ malformed: true, times: "always" });
    const error = await failureOf(callOpenAI("gpt-4.1"));
    expect(error).toMatchObject({ kind: "retryable", message: expect.stringContaining("malformed") });
  });

  it.each([
    ["Chat Completions", () => callOpenAI("gpt-4.1", streaming)],
    ["Responses API", () => callOpenAI("gpt-5-codex", streaming)],
    ["Gemini", () => callGemini("flash", streaming)],
  ] as const)("retries a malformed %s stream", async (_, call) => {
    up.fault({ malformed: true });
    await expect(call()).resolves.toMatchObject({ text: expect.stringMatching(/^fake:/) });
    expect(up.requests()).toHaveLength(2);
  });

  it.each([
    ["Chat Completions", () => callOpenAI("gpt-4.1", streaming)],
    ["Responses API", () => callOpenAI("gpt-5-codex", streaming)],
    ["Gemini", () => callGemini("flash", streaming)],
    ["a plain JSON body", () => callOpenAI("gpt-4.1")],
  ] as const)("retries a truncated %s, and reports it when it persists", async (_, call) => {
    up.fault({ truncate: true });
    await expect(call()).resolves.toMatchObject({ text: expect.stringMatching(/^fake:/) });
    expect(up.requests()).toHaveLength(2);
    up.reset();
    up.fault({ truncate: true, times: "always" });
    const error = await failureOf(call());
    expect(error.kind).toBe("retryable");
    expect(up.requests()).toHaveLength(3);
  });
});

describe("safety and empty answers", () => {
  it.each([
    ["Gemini", () => callGemini("flash")],
    ["Gemini streamed", () => callGemini("flash", streaming)],
    ["Chat Completions", () => callOpenAI("gpt-4.1")],
    ["Responses API", () => callOpenAI("gpt-5-pro")],
  ] as const)("reports a %s safety block as safety, without retrying", async (_, call) => {
    up.fault({ safetyBlock: true, times: "always" });
    const error = await failureOf(call());
    expect(error.kind).toBe("safety");
    expect(up.requests()).toHaveLength(1);
  });

  // callModel runs here without Durable Objects: an unreachable breaker must not block calls.
  const deps = () => ({ env: {} as Env, team: "test", config, registry, waitUntil: () => undefined });

  it("asks once more after an empty answer and returns the second", async () => {
    up.fault({ emptyText: true });
    const result = await chooseAndCall(deps(), { requested: "gpt-4.1", category: "balanced" }, request);
    expect(result.response.text).toMatch(/^fake:gpt-4\.1:/);
    const [first, second] = up.requests();
    expect(JSON.stringify(first?.body)).not.toContain("previous reply was empty");
    expect(JSON.stringify(second?.body)).toContain("previous reply was empty");
  });

  it("fails with kind empty when the model answers with nothing twice", async () => {
    up.fault({ emptyText: true, times: 2 });
    const error = await failureOf(chooseAndCall(deps(), { requested: "flash", category: "balanced" }, request));
    expect(error).toMatchObject({ kind: "empty", provider: "google" });
    expect(up.requests()).toHaveLength(2);
  });

  it("resolves auto mode and retries through callModel", async () => {
    up.fault({ status: 502, kind: "gemini" });
    const result = await chooseAndCall(deps(), { category: "fast_response" }, request);
    expect(result.model.provider.id).toBe("google");
    expect(result.model.capabilities.modelName).toBe("gemini-3.8-flash");
    expect(up.requests()).toHaveLength(2);
  });
});
