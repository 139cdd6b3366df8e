/**
 * Workers AI through a double of the `AI` binding at its boundary (run() with the documented
 * request and response shapes), inside workerd: the call it makes, plain and streamed answers,
 * thrown errors and their retries, cancellation, the empty answer, the circuit breaker, and how
 * the binding's presence configures the provider.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/core/config.ts";
import type { Env } from "../../../src/core/env.ts";
import { callModel, chooseModel } from "../../../src/providers/call";
import { parseProviders } from "../../../src/providers/catalog";
import type { GenerateOptions, ResolvedModel } from "../../../src/providers/descriptor";
import { registryFor, type ModelRegistry } from "../../../src/providers/registry";
import { workersAi } from "../../../src/providers/workers-ai";
import { ProviderError, type ModelRequest } from "../../../src/providers/types";
import { callDeps, QUICK, registryWith } from "./support";
import { DONE, event, fails, reply, sseStream, streamed, WorkersAiDouble } from "./workers-ai-double";

const realEnv = env as unknown as Env;
/** The deploy's `AI` binding, as the env holds it. */
const BOUND = { AI: new WorkersAiDouble() };
const request = { systemPrompt: "You review code.", prompt: "Is this loop correct?", temperature: 3 } satisfies ModelRequest;

function registry(vars: Record<string, string> = {}): ModelRegistry {
  return registryWith({ ...vars, ...BOUND });
}

function model(name = "llama-3.3-70b"): ResolvedModel {
  return registry().resolve(name);
}

function options(binding: WorkersAiDouble, extra: Partial<GenerateOptions> = {}): GenerateOptions {
  return { ...QUICK, ai: binding, ...extra };
}

function call(binding: WorkersAiDouble, extra: Partial<GenerateOptions> = {}, name = "llama-3.3-70b") {
  const resolved = model(name);
  return workersAi.generate(resolved.provider, resolved, request, options(binding, extra));
}

afterEach(async () => {
  // Breaker storage lives for the file: close the provider's breaker again.
  const config = parseConfig({});
  await realEnv.BREAKERS.getByName("test:workers-ai").recordSuccess({ ...config.breaker, probeLeaseMs: config.providerCall.deadlineMs }, false);
});

describe("Workers AI: configuration", () => {
  it("is configured by the binding's presence alone, with no key, and never without it", () => {
    expect(parseProviders({})).toEqual([]);
    const providers = parseProviders(BOUND);
    expect(providers.map((p) => p.id)).toEqual(["workers-ai"]);
    expect(providers[0]?.apiKey).toBe("");
    expect(registryFor({ ...realEnv, AI: new WorkersAiDouble() }).providers.map((p) => p.id)).toEqual(["workers-ai"]);
    expect(registryFor({ ...realEnv }).providers).toEqual([]);
  });

  it("comes after every keyed provider, so auto mode takes a key the operator set and Workers AI otherwise", () => {
    const keyed = registry({ GEMINI_API_KEY: "k", OPENROUTER_API_KEY: "r" });
    expect(keyed.providers.map((p) => p.id)).toEqual(["google", "openrouter", "workers-ai"]);
    expect(keyed.candidatesFor("fast_response").map((c) => c.provider.id)).toEqual(["google", "openrouter", "workers-ai"]);
    const alone = registry().candidatesFor("fast_response");
    expect(alone.map((c) => c.capabilities.modelName)).toEqual(["@cf/meta/llama-3.3-70b-instruct-fp8-fast"]);
  });

  it("resolves its names and aliases, before OpenRouter's catch-all for vendor/model names", () => {
    const withOpenRouter = registry({ OPENROUTER_API_KEY: "r" });
    expect(withOpenRouter.resolve("@cf/qwen/qwen2.5-coder-32b-instruct").provider.id).toBe("workers-ai");
    expect(withOpenRouter.resolve("QWEN-CODER").capabilities.modelName).toBe("@cf/qwen/qwen2.5-coder-32b-instruct");
    expect(withOpenRouter.resolve("mistral-small").capabilities).toMatchObject({ contextWindow: 128_000, maxOutputTokens: 8_192 });
    expect(registry().modelsOf("workers-ai")).toHaveLength(4);
  });

  it("honours WORKERS_AI_ALLOWED_MODELS", () => {
    const restricted = registry({ WORKERS_AI_ALLOWED_MODELS: "qwen-coder" });
    expect(restricted.modelsOf("workers-ai").map((m) => m.modelName)).toEqual(["@cf/qwen/qwen2.5-coder-32b-instruct"]);
    expect(() => restricted.resolve("llama-3.3-70b")).toThrow(/not allowed by restriction policy/);
  });
});

describe("Workers AI: the call", () => {
  it("sends the messages, a max_tokens of the model's output limit and a clamped temperature, and reads the answer", async () => {
    const binding = new WorkersAiDouble(reply("Yes, the loop terminates.", 6));
    const response = await call(binding);
    expect(binding.calls).toEqual([
      {
        model: "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
        input: {
          messages: [
            { role: "system", content: "You review code." },
            { role: "user", content: "Is this loop correct?" },
          ],
          max_tokens: 4_096,
          temperature: 2,
          stream: false,
        },
      },
    ]);
    expect(response).toEqual({
      text: "Yes, the loop terminates.",
      usage: { inputTokens: 40, outputTokens: 6, totalTokens: 46 },
      finishReason: "stop",
      modelName: "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
      provider: "workers-ai",
    });
  });

  it("reports an answer that used its whole token allowance as cut short", async () => {
    const response = await call(new WorkersAiDouble(reply("The first half of", 4_096)));
    expect(response.finishReason).toBe("length");
  });

  it("streams when progress is wanted: SSE split anywhere, progress per piece, usage from the last event", async () => {
    const body = event({ response: "Use a", p: "abc" }) + event({ response: " bounded loop." }) + event({ response: "", usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } }) + DONE;
    // Cut across an event, a JSON value and the final blank line.
    const binding = new WorkersAiDouble(streamed(body.slice(0, 13), body.slice(13, 40), body.slice(40, body.length - 1), body.slice(body.length - 1)));
    const progress: number[] = [];
    const response = await call(binding, { onProgress: (p) => progress.push(p.outputChars) });
    expect(binding.calls[0]?.input.stream).toBe(true);
    expect(response).toMatchObject({ text: "Use a bounded loop.", usage: { inputTokens: 9, outputTokens: 4, totalTokens: 13 }, finishReason: "stop" });
    expect(progress).toEqual([5, 19]);
  });

  it("retries a stream that ends before [DONE]", async () => {
    const binding = new WorkersAiDouble(streamed(event({ response: "Half an ans" })), streamed(event({ response: "Whole." }), DONE));
    const response = await call(binding, { onProgress: () => undefined });
    expect(response.text).toBe("Whole.");
    expect(binding.calls).toHaveLength(2);
  });

  it("retries a stream carrying garbage", async () => {
    const binding = new WorkersAiDouble(streamed("data: {not json\n\n", DONE), streamed(event({ response: "Fine." }), DONE));
    expect((await call(binding, { onProgress: () => undefined })).text).toBe("Fine.");
    expect(binding.calls).toHaveLength(2);
  });

  it("returns an empty answer as empty, for the caller to ask again", async () => {
    const response = await call(new WorkersAiDouble(reply("", 0)));
    expect(response).toMatchObject({ text: "", finishReason: "stop" });
  });
});

describe("Workers AI: errors thrown by the binding", () => {
  it("retries capacity errors (3040) and succeeds", async () => {
    const binding = new WorkersAiDouble(fails("3040: Capacity temporarily exceeded, please try again."), reply("Recovered."));
    expect((await call(binding)).text).toBe("Recovered.");
    expect(binding.calls).toHaveLength(2);
  });

  it("gives up on capacity errors after the attempts, saying so", async () => {
    const binding = new WorkersAiDouble(fails("3040: Capacity temporarily exceeded, please try again."));
    const error = await call(binding).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ provider: "workers-ai", kind: "retryable", status: 429 });
    expect((error as Error).message).toBe("Workers AI failed: 3040: Capacity temporarily exceeded, please try again (gave up after 3 attempts)");
    expect(binding.calls).toHaveLength(3);
  });

  it("retries an error without a code as an upstream fault", async () => {
    const binding = new WorkersAiDouble(fails("AiError: AiError: Request timeout (a613c7db)"), reply("Later."));
    expect((await call(binding)).text).toBe("Later.");
  });

  it.each([
    ["invalid input", "AiError: 5006: Error: oneOf at '/' not met, Type mismatch of '/messages/1/content'", 400],
    ["no such model", "5007: No such model @cf/meta/gone or task", 400],
    ["daily allocation spent", "3036: You have used up your daily free allocation of 10,000 neurons. Please upgrade to Cloudflare's Workers Paid plan if you would like to continue usage.", 429],
    ["context window", "5021: The estimated number of input and maximum output tokens exceeded this model context window limit.", undefined],
  ])("does not retry %s: it is final", async (_what, message, status) => {
    const binding = new WorkersAiDouble(fails(message), reply("never"));
    const error = await call(binding).catch((e: unknown) => e);
    expect(error).toMatchObject({ provider: "workers-ai", kind: "final", status });
    expect((error as Error).message).toBe(`Workers AI failed: ${message}`);
    expect(binding.calls).toHaveLength(1);
  });

  it("refuses a plain answer that is not an object, as malformed, and retries it", async () => {
    const binding = new WorkersAiDouble({ value: sseStream([DONE]) }, reply("Now JSON."));
    expect((await call(binding)).text).toBe("Now JSON.");
    expect(binding.calls).toHaveLength(2);
  });

  it("fails clearly when the deploy has no binding", async () => {
    const resolved = model();
    await expect(workersAi.generate(resolved.provider, resolved, request, QUICK)).rejects.toMatchObject({
      kind: "final",
      message: expect.stringContaining('binding = "AI"'),
    });
  });
});

describe("Workers AI: cancellation", () => {
  it("gives up a pending call when the caller cancels, and releases a stream that arrives afterwards", async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    let answer!: (stream: ReadableStream<Uint8Array>) => void;
    let released!: () => void;
    const cancelled = new Promise<void>((resolve) => (released = resolve));
    const binding = new WorkersAiDouble({
      build: () => {
        started();
        return new Promise((resolve) => (answer = resolve));
      },
    });
    const controller = new AbortController();
    const pending = call(binding, { signal: controller.signal, onProgress: () => undefined });
    await running;
    controller.abort();
    await expect(pending).rejects.toMatchObject({ kind: "aborted", provider: "workers-ai" });
    answer(new ReadableStream({ cancel: () => released() }));
    await cancelled;
    expect(binding.calls).toHaveLength(1);
  });

  it("stops reading a stream mid-answer when the caller cancels, and cancels the stream", async () => {
    let released!: () => void;
    const cancelled = new Promise<void>((resolve) => (released = resolve));
    const open = new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(new TextEncoder().encode(event({ response: "Starting" }))),
      cancel: () => released(),
    });
    const controller = new AbortController();
    const pending = call(new WorkersAiDouble({ value: open }), { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(pending).rejects.toMatchObject({ kind: "aborted" });
    await cancelled;
  });
});

describe("Workers AI: through callModel", () => {
  function deps(binding: WorkersAiDouble, vars: Record<string, string> = {}) {
    const callDepsWithBinding = callDeps({ PROVIDER_MAX_ATTEMPTS: "1", BREAKER_FAILURE_THRESHOLD: "2", ...vars, ...BOUND });
    callDepsWithBinding.env.AI = binding;
    return callDepsWithBinding;
  }

  it("asks once more after an empty answer, then reports it as empty", async () => {
    const binding = new WorkersAiDouble(reply("", 0));
    const d = deps(binding);
    const error = await callModel(d, await chooseModel(d, { category: "balanced" }), request).catch((e: unknown) => e);
    expect(error).toMatchObject({ provider: "workers-ai", kind: "empty", message: expect.stringContaining("answered with nothing, twice") });
    expect(binding.calls).toHaveLength(2);
    expect(binding.calls[1]?.input.messages[1]?.content).toContain("Your previous reply was empty");
    await d.settle();
  });

  it("takes the answer given after an empty one", async () => {
    const binding = new WorkersAiDouble(reply("", 0), reply("Here it is."));
    const d = deps(binding);
    const result = await callModel(d, await chooseModel(d, { category: "balanced" }), request);
    expect(result.response.text).toBe("Here it is.");
    expect(result.model.provider.id).toBe("workers-ai");
    await d.settle();
  });

  it("opens the circuit breaker after consecutive capacity errors, then fails fast without calling the binding", async () => {
    const binding = new WorkersAiDouble(fails("3040: Capacity temporarily exceeded, please try again."));
    const d = deps(binding);
    for (let i = 0; i < 2; i++) {
      await expect(callModel(d, await chooseModel(d, { requested: "llama-3.3-70b", category: "balanced" }), request)).rejects.toMatchObject({ kind: "retryable" });
    }
    await d.settle();
    const error = await callModel(d, await chooseModel(d, { requested: "llama-3.3-70b", category: "balanced" }), request).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "breaker_open", provider: "workers-ai", message: expect.stringContaining("Calls to Workers AI are paused") });
    expect(binding.calls).toHaveLength(2);
    await d.settle();
  });

  it("lets auto mode skip a keyed provider whose breaker is open and use Workers AI", async () => {
    const binding = new WorkersAiDouble(reply("From Cloudflare."));
    const d = deps(binding, { GEMINI_API_KEY: "k", GEMINI_BASE_URL: "https://gemini.test" });
    const settings = { ...d.config.breaker, probeLeaseMs: d.config.providerCall.deadlineMs };
    for (let i = 0; i < 2; i++) await realEnv.BREAKERS.getByName("test:google").recordFailure(settings);
    try {
      const chosen = await chooseModel(d, { category: "balanced" });
      expect(chosen.fallbackFrom?.provider).toBe("google");
      const result = await callModel(d, chosen, request);
      expect(result.response.text).toBe("From Cloudflare.");
      await d.settle();
    } finally {
      await realEnv.BREAKERS.getByName("test:google").recordSuccess(settings, false);
    }
  });
});
