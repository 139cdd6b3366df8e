import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Config } from "../../../src/core/config.ts";
import type { BreakerSettings } from "../../../src/core/rpc/breaker";
import type { Env } from "../../../src/core/env.ts";
import { callModel, chooseModel, type CallDeps, type CallOptions, type CallResult, type ModelChoice } from "../../../src/providers/call";
import { PROVIDERS } from "../../../src/providers/catalog";
import { withImagesRead } from "../../../src/providers/index";
import { ModelResolutionError, NO_PROVIDER_MESSAGE } from "../../../src/providers/registry";
import { ProviderError, type ImageInput, type ModelRequest } from "../../../src/providers/types";
import { callDeps, configWith, mockFetch, type Sent } from "./support";

/** Chooses the model as a tool would, then calls it. */
async function chooseAndCall(deps: CallDeps, choice: ModelChoice, request: ModelRequest, options?: CallOptions): Promise<CallResult> {
  return callModel(deps, await chooseModel(deps, choice), request, options);
}


const VARS = {
  GEMINI_API_KEY: "g-key",
  GEMINI_BASE_URL: "https://gemini.test",
  OPENAI_API_KEY: "o-key",
  OPENAI_BASE_URL: "https://openai.test/v1",
  OPENROUTER_API_KEY: "r-key",
  OPENROUTER_BASE_URL: "https://openrouter.test/api/v1",
  PROVIDER_MAX_ATTEMPTS: "1",
  BREAKER_FAILURE_THRESHOLD: "2",
};
const realEnv = env as unknown as Env;

/** Deps with a cooldown shorter than BREAKER_COOLDOWN_SECONDS can express. */
function quickDeps(vars: Record<string, string> = VARS, cooldownMs = 60_000) {
  const config = configWith(vars);
  return callDeps(vars, { ...config, breaker: { ...config.breaker, cooldownMs } });
}

function settingsOf(config: Config): BreakerSettings {
  return { ...config.breaker, probeLeaseMs: config.providerCall.deadlineMs };
}

/** Answers as Gemini or an OpenAI-style API would, by URL. */
function answer(text: string, finish = "stop") {
  return (sent: Sent): Response =>
    sent.url.hostname === "gemini.test"
      ? Response.json({
          candidates: [{ content: { parts: [{ text }] }, finishReason: finish === "stop" ? "STOP" : "MAX_TOKENS" }],
          usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 2, totalTokenCount: 12 },
          modelVersion: "gemini-3.8-flash",
        })
      : Response.json({ model: String(sent.body["model"]), choices: [{ message: { content: text }, finish_reason: finish }], usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 } });
}

const unavailable = () => Response.json({ error: { code: 503, message: "The model is overloaded.", status: "UNAVAILABLE" } }, { status: 503 });
const request = { systemPrompt: "Be helpful.", prompt: "What is 2+2?", temperature: 0.3 };

afterEach(async () => {
  vi.restoreAllMocks();
  // Breakers are named by provider and storage lives for the file: close them all again.
  const settings = settingsOf(configWith(VARS));
  await Promise.all(PROVIDERS.map(({ id }) => realEnv.BREAKERS.getByName(`test:${id}`).recordSuccess(settings, false)));
});

describe("callModel: resolution", () => {
  it("resolves an alias by provider priority and returns the answer", async () => {
    const sent = mockFetch(answer("4"));
    const deps = quickDeps();
    const result = await chooseAndCall(deps, { requested: "flash", category: "fast_response" }, request);
    expect(sent[0]?.url.href).toBe("https://gemini.test/v1beta/models/gemini-3.8-flash:generateContent");
    expect(result.response.text).toBe("4");
    expect(result.model).toMatchObject({ requestedName: "flash", capabilities: { modelName: "gemini-3.8-flash" }, provider: { id: "google" } });
    expect(result.fallbackFrom).toBeUndefined();
    await deps.settle();
  });

  it("falls back to OpenRouter for an alias when the native provider is not configured", async () => {
    const sent = mockFetch(answer("4"));
    const { GEMINI_API_KEY: _, ...withoutGemini } = VARS;
    const deps = quickDeps(withoutGemini);
    const result = await chooseAndCall(deps, { requested: "flash", category: "fast_response" }, request);
    expect(result.model.provider.id).toBe("openrouter");
    expect(sent[0]?.body["model"]).toBe("google/gemini-2.5-flash");
    await deps.settle();
  });

  it("rejects unknown and restricted names with the alternatives", async () => {
    const sent = mockFetch(answer("never"));
    const deps = quickDeps({ ...VARS, GOOGLE_ALLOWED_MODELS: "flash", OPENROUTER_ALLOWED_MODELS: "sonnet" });
    const unknown = await chooseAndCall(deps, { requested: "no-such-model", category: "balanced" }, request).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(ModelResolutionError);
    expect((unknown as Error).message).toContain("Available models:");
    const restricted = await chooseAndCall(deps, { requested: "gemini-2.5-pro", category: "balanced" }, request).catch((e: unknown) => e);
    expect(restricted).toBeInstanceOf(ModelResolutionError);
    expect((restricted as Error).message).toMatch(/not allowed by restriction policy/);
    expect(sent).toHaveLength(0);
  });

  it("explains how to configure a provider when there is none", async () => {
    const deps = quickDeps({});
    await expect(chooseAndCall(deps, { category: "balanced" }, request)).rejects.toThrow(NO_PROVIDER_MESSAGE);
  });

  it("makes no Durable Object call on the hot path once the breaker state is cached", async () => {
    mockFetch(answer("4"));
    const deps = quickDeps();
    let stubs = 0;
    deps.env.BREAKERS = new Proxy(realEnv.BREAKERS, {
      get(target, property) {
        if (property === "getByName") {
          return (name: string) => {
            stubs++;
            return target.getByName(name);
          };
        }
        return Reflect.get(target, property) as unknown;
      },
    });
    await chooseAndCall(deps, { requested: "flash", category: "fast_response" }, request);
    await deps.settle();
    const afterWarmUp = stubs;
    await chooseAndCall(deps, { requested: "flash", category: "fast_response" }, request);
    await chooseAndCall(deps, { requested: "flash", category: "fast_response" }, request);
    await deps.settle();
    // The first call reads the state once; the calls after it make no round trip at all.
    expect(afterWarmUp).toBe(1);
    expect(stubs).toBe(afterWarmUp);
  });
});

describe("callModel: circuit breaker", () => {
  it("opens after consecutive retryable failures, then fails fast naming the provider and the retry time", async () => {
    const sent = mockFetch(unavailable);
    const deps = quickDeps();
    for (let i = 0; i < 2; i++) {
      await expect(chooseAndCall(deps, { requested: "flash", category: "balanced" }, request)).rejects.toMatchObject({ kind: "retryable", status: 503 });
    }
    await deps.settle();
    expect(await realEnv.BREAKERS.getByName("test:google").state(settingsOf(deps.config))).toMatchObject({ state: "open", consecutiveFailures: 2 });

    const error = await chooseAndCall(deps, { requested: "flash", category: "balanced" }, request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ kind: "breaker_open", provider: "google" });
    expect((error as Error).message).toMatch(/Gemini.*retried in about \d+ s/);
    expect((error as ProviderError).retryAfterMs).toBeGreaterThan(0);
    expect(sent).toHaveLength(2);
  });

  it("keeps one team's failures from pausing the provider for another team (attack: a team burns a shared breaker)", async () => {
    mockFetch(unavailable);
    const attacker = quickDeps();
    for (let i = 0; i < 3; i++) await chooseAndCall(attacker, { requested: "flash", category: "balanced" }, request).catch(() => undefined);
    await attacker.settle();
    await expect(chooseAndCall(attacker, { requested: "flash", category: "balanced" }, request)).rejects.toMatchObject({ kind: "breaker_open" });

    vi.restoreAllMocks();
    const sent = mockFetch(answer("still up"));
    const victim = { ...quickDeps(), team: "other-team" };
    await expect(chooseAndCall(victim, { requested: "flash", category: "balanced" }, request)).resolves.toMatchObject({ response: { text: "still up" } });
    expect(sent).toHaveLength(1);
    await victim.settle();
  });

  it("keys OpenRouter's breakers by model: one failing vendor/model leaves the others open", async () => {
    mockFetch((sent) => (String(sent.body["model"]) === "broken/model" ? unavailable() : answer("fine")(sent)));
    const deps = quickDeps();
    for (let i = 0; i < 3; i++) await chooseAndCall(deps, { requested: "broken/model", category: "balanced" }, request).catch(() => undefined);
    await deps.settle();
    await expect(chooseAndCall(deps, { requested: "broken/model", category: "balanced" }, request)).rejects.toMatchObject({ kind: "breaker_open" });
    await expect(chooseAndCall(deps, { requested: "vendor/healthy", category: "balanced" }, request)).resolves.toMatchObject({ response: { text: "fine" } });
    await deps.settle();
  });

  it("attack: made-up OpenRouter model names leave no breaker storage; a model that replied keeps its state", async () => {
    const madeUp = Array.from({ length: 4 }, (_, i) => `made-up/model-${i}`);
    let realCalls = 0;
    mockFetch((sent) => {
      const model = String(sent.body["model"]);
      // A real model replies once, then fails.
      if (model === "vendor/real-model") return realCalls++ === 0 ? answer("fine")(sent) : unavailable();
      // Made-up names: the provider refuses some, and fails on others.
      return model.endsWith("0") || model.endsWith("1") ? Response.json({ error: { message: `${model} is not a valid model ID` } }, { status: 400 }) : unavailable();
    });
    const deps = quickDeps();
    for (const name of madeUp) {
      for (let i = 0; i < 3; i++) await chooseAndCall(deps, { requested: name, category: "balanced" }, request).catch(() => undefined);
    }
    // Failing names still pause for the isolates that ask their objects, in memory.
    await expect(chooseAndCall(deps, { requested: "made-up/model-2", category: "balanced" }, request)).rejects.toMatchObject({ kind: "breaker_open" });
    await expect(chooseAndCall(deps, { requested: "vendor/real-model", category: "balanced" }, request)).resolves.toMatchObject({ response: { text: "fine" } });
    for (let i = 0; i < 2; i++) await chooseAndCall(deps, { requested: "vendor/real-model", category: "balanced" }, request).catch(() => undefined);
    await deps.settle();
    const stored = (name: string) =>
      runInDurableObject(realEnv.BREAKERS.getByName(`test:openrouter:${name}`), (_instance, state) => state.storage.kv.get<{ state: string }>("breaker"));
    for (const name of madeUp) expect(await stored(name), name).toBeUndefined();
    expect(await stored("vendor/real-model")).toMatchObject({ state: "open", answered: true });
  });

  it("does not count final errors (400) against the provider", async () => {
    mockFetch(() => Response.json({ error: { message: "bad request" } }, { status: 400 }));
    const deps = quickDeps();
    for (let i = 0; i < 3; i++) {
      await expect(chooseAndCall(deps, { requested: "flash", category: "balanced" }, request)).rejects.toMatchObject({ kind: "final" });
    }
    await deps.settle();
    expect((await realEnv.BREAKERS.getByName("test:google").state(settingsOf(deps.config))).state).toBe("closed");
  });

  it("in auto mode skips a provider whose breaker is open and says so", async () => {
    const deps = quickDeps();
    const settings = settingsOf(deps.config);
    await realEnv.BREAKERS.getByName("test:google").recordFailure(settings);
    await realEnv.BREAKERS.getByName("test:google").recordFailure(settings);
    const sent = mockFetch(answer("from openai"));
    // A new isolate's first call already knows the breaker state.
    const result = await chooseAndCall(deps, { category: "fast_response" }, request);
    expect(result.model.provider.id).toBe("openai");
    expect(result.fallbackFrom).toMatchObject({ provider: "google", reason: expect.stringContaining("circuit breaker") });
    expect(sent.every((s) => s.url.hostname === "openai.test")).toBe(true);
    await deps.settle();
  });

  it("in auto mode fails with breaker_open when every provider is paused", async () => {
    mockFetch(unavailable);
    const deps = quickDeps();
    for (let i = 0; i < 8; i++) await chooseAndCall(deps, { category: "balanced" }, request).catch(() => undefined);
    await deps.settle();
    const error = await chooseAndCall(deps, { category: "balanced" }, request).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "breaker_open" });
    expect((error as Error).message).toMatch(/Gemini.*OpenAI.*OpenRouter/s);
  });

  it("after the cooldown lets a single probe through; its success closes the breaker", async () => {
    const deps = quickDeps(VARS, 100);
    mockFetch(unavailable);
    for (let i = 0; i < 2; i++) await chooseAndCall(deps, { requested: "flash", category: "balanced" }, request).catch(() => undefined);
    await deps.settle();
    await new Promise((resolve) => setTimeout(resolve, 150));

    vi.restoreAllMocks();
    const sent = mockFetch(async (s) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return answer("recovered")(s);
    });
    const outcomes = await Promise.allSettled([1, 2, 3].map(() => chooseAndCall(deps, { requested: "flash", category: "balanced" }, request)));
    const passed = outcomes.filter((o) => o.status === "fulfilled");
    const refused = outcomes.filter((o) => o.status === "rejected").map((o) => (o as PromiseRejectedResult).reason as ProviderError);
    expect(passed).toHaveLength(1);
    expect(refused.map((e) => e.kind)).toEqual(["breaker_open", "breaker_open"]);
    expect(sent).toHaveLength(1);
    await deps.settle();
    expect((await realEnv.BREAKERS.getByName("test:google").state(settingsOf(deps.config))).state).toBe("closed");
    await expect(chooseAndCall(deps, { requested: "flash", category: "balanced" }, request)).resolves.toMatchObject({ response: { text: "recovered" } });
    await deps.settle();
  });

  it("does not spend the probe on a request refused for its images", async () => {
    const deps = quickDeps(VARS, 100);
    mockFetch(unavailable);
    for (let i = 0; i < 2; i++) await chooseAndCall(deps, { requested: "flash", category: "balanced" }, request).catch(() => undefined);
    await deps.settle();
    await new Promise((resolve) => setTimeout(resolve, 150));
    const tooMany = Array.from({ length: 6 }, () => ({ mediaType: "image/png", bytes: 3, read: async () => "AAAA" }));
    await expect(chooseAndCall(deps, { requested: "flash", category: "balanced" }, { ...request, images: tooMany })).rejects.toMatchObject({ kind: "final" });
    await deps.settle();
    expect((await realEnv.BREAKERS.getByName("test:google").state(settingsOf(deps.config))).state).toBe("half_open");
    vi.restoreAllMocks();
    mockFetch(answer("back"));
    await expect(chooseAndCall(deps, { requested: "flash", category: "balanced" }, request)).resolves.toMatchObject({ response: { text: "back" } });
    await deps.settle();
  });

  it("opens again when the probe fails", async () => {
    const deps = quickDeps(VARS, 100);
    mockFetch(unavailable);
    for (let i = 0; i < 2; i++) await chooseAndCall(deps, { requested: "flash", category: "balanced" }, request).catch(() => undefined);
    await deps.settle();
    await new Promise((resolve) => setTimeout(resolve, 150));
    await expect(chooseAndCall(deps, { requested: "flash", category: "balanced" }, request)).rejects.toMatchObject({ kind: "retryable" });
    await expect(chooseAndCall(deps, { requested: "flash", category: "balanced" }, request)).rejects.toMatchObject({ kind: "breaker_open" });
    await deps.settle();
    expect((await realEnv.BREAKERS.getByName("test:google").state(settingsOf(deps.config))).state).toBe("open");
  });
});

describe("callModel: every failure names the model and what to do", () => {
  const failure = async (vars: Record<string, string>, reply: () => Response, model = "flash") => {
    mockFetch(reply);
    const deps = quickDeps(vars);
    const error = await chooseAndCall(deps, { requested: model, category: "balanced" }, request).catch((e: unknown) => e);
    await deps.settle();
    expect(error).toBeInstanceOf(ProviderError);
    return (error as Error).message;
  };

  it("a transient fault: try again, or when the upstream asked to wait, after that", async () => {
    expect(await failure(VARS, unavailable)).toBe(
      "Calling gemini-3.8-flash failed: Gemini returned HTTP 503: The model is overloaded. This is usually temporary: try again in a moment, or choose a model from another provider.",
    );
    const limited = () => Response.json({ error: { message: "slow down" } }, { status: 429, headers: { "retry-after": "30" } });
    expect(await failure(VARS, limited, "gpt-4.1")).toMatch(/^Calling gpt-4\.1 failed: OpenAI returned HTTP 429: slow down\. OpenAI asked to wait 30 s: try again in about 30 s/);
  });

  it("a refusal: the remedy for its cause", async () => {
    const status = (code: number, message: string) => () => Response.json({ error: { message } }, { status: code });
    expect(await failure(VARS, status(401, "API key not valid."))).toBe("Calling gemini-3.8-flash failed: Gemini returned HTTP 401: API key not valid. Check GEMINI_API_KEY.");
    expect(await failure(VARS, status(400, "maximum context length exceeded"))).toMatch(/gemini-3\.8-flash.*send fewer or smaller files/);
    expect(await failure(VARS, status(429, "You exceeded your current quota"))).toMatch(/gemini-3\.8-flash.*Check the Gemini account's quota and billing/);
    expect(await failure(VARS, status(404, "no such model"))).toMatch(/gemini-3\.8-flash.*Check the model name/);
    expect(await failure(VARS, status(422, "bad field"))).toMatch(/gemini-3\.8-flash.*Retrying the same request would fail the same way/);
  });

  it("a safety block: rephrase, or another provider", async () => {
    const blocked = () => Response.json({ candidates: [{ finishReason: "SAFETY" }], usageMetadata: {} });
    expect(await failure(VARS, blocked)).toMatch(/^Calling gemini-3\.8-flash failed: .*Rephrase the request, or choose a model from another provider\.$/);
  });

  it("an open breaker: the model was not called, and when it will be", async () => {
    mockFetch(unavailable);
    const deps = quickDeps();
    for (let i = 0; i < 2; i++) await chooseAndCall(deps, { requested: "flash", category: "balanced" }, request).catch(() => undefined);
    const error = await chooseAndCall(deps, { requested: "flash", category: "balanced" }, request).catch((e: unknown) => e);
    await deps.settle();
    expect((error as Error).message).toMatch(/^gemini-3\.8-flash was not called\. Calls to Gemini are paused.*Choose a model from another provider meanwhile\.$/);
  });
});

describe("callModel: keys never reach the assistant", () => {
  it("redacts a key echoed in an error body before the message is cut short", async () => {
    // The key straddles the 500-character cut of the upstream's message.
    mockFetch(() => Response.json({ error: { message: `${"x".repeat(490)} g-key-0123456789abcdef was rejected` } }, { status: 401 }));
    const deps = quickDeps({ ...VARS, GEMINI_API_KEY: "g-key-0123456789abcdef" });
    const error = (await chooseAndCall(deps, { requested: "flash", category: "balanced" }, request).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.message).not.toMatch(/g-ke/);
    await deps.settle();
  });

  it("redacts a key echoed in an error inside a 200 answer", async () => {
    mockFetch(() => Response.json({ error: { message: "Invalid API key provided: r-key-secret-42" } }, { status: 200 }));
    const deps = quickDeps({ ...VARS, OPENROUTER_API_KEY: "r-key-secret-42" });
    const error = (await chooseAndCall(deps, { requested: "vendor/model", category: "balanced" }, request).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.message).toContain("[redacted]");
    expect(error.message).not.toContain("r-key-secret-42");
    await deps.settle();
  });
});

describe("callModel: empty replies", () => {
  it("asks once more after an empty reply, and returns the second answer with both usages", async () => {
    const sent = mockFetch(answer(""), answer("Four."));
    const deps = quickDeps();
    const result = await chooseAndCall(deps, { requested: "gpt-4.1", category: "balanced" }, request);
    expect(result.response.text).toBe("Four.");
    expect(result.response.usage).toEqual({ inputTokens: 20, outputTokens: 4, totalTokens: 24 });
    const lastPrompt = (body: Record<string, unknown>) => (body["messages"] as Array<{ content: string }>).at(-1)?.content ?? "";
    expect(lastPrompt(sent[0]?.body ?? {})).toBe("What is 2+2?");
    expect(lastPrompt(sent[1]?.body ?? {})).toMatch(/^What is 2\+2\?\n\n.*empty.*substantive/);
    await deps.settle();
  });

  it("fails with kind empty after two empty replies, without counting against the breaker", async () => {
    const sent = mockFetch(answer("  "));
    const deps = quickDeps();
    const error = await chooseAndCall(deps, { requested: "flash", category: "balanced" }, request).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "empty", provider: "google" });
    expect(sent).toHaveLength(2);
    await deps.settle();
    expect((await realEnv.BREAKERS.getByName("test:google").state(settingsOf(deps.config))).consecutiveFailures).toBe(0);
  });

  it("does not ask again when the output budget ran out", async () => {
    const sent = mockFetch(answer("", "length"));
    const deps = quickDeps();
    await expect(chooseAndCall(deps, { requested: "gpt-4.1", category: "balanced" }, request)).rejects.toMatchObject({
      kind: "empty",
      message: expect.stringContaining("output budget"),
    });
    expect(sent).toHaveLength(1);
  });
});

describe("callModel: images and cancellation", () => {
  /** An image of `bytes` bytes, as loadImages hands it on; `reads` counts the reads of its bytes. */
  let reads = 0;
  const png = (bytes: number): ImageInput => ({
    mediaType: "image/png",
    bytes,
    read: async () => {
      reads++;
      return "A".repeat(Math.ceil((bytes * 4) / 3));
    },
  });

  it("refuses images for a model without vision, naming models that have it", async () => {
    const sent = mockFetch(answer("never"));
    const deps = quickDeps();
    const error = await chooseAndCall(deps, { requested: "gemini-2.0-flash-lite", category: "balanced" }, { ...request, images: [png(10)] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "final", provider: "google" });
    expect((error as Error).message).toMatch(/'gemini-2\.0-flash-lite' does not accept images\. Models that accept images: gemini-3\.1-pro-preview, gemini-3-pro-preview, gemini-2\.5-pro/);
    expect(sent).toHaveLength(0);
  });

  it("limits the number and the size of images", async () => {
    mockFetch(answer("never"));
    const deps = quickDeps();
    const six = Array.from({ length: 6 }, () => png(10));
    await expect(chooseAndCall(deps, { requested: "flash", category: "balanced" }, { ...request, images: six })).rejects.toThrow(/At most 5 images/);
    const twoOfThree = [png(3 * 1024 * 1024), png(3 * 1024 * 1024)];
    await expect(chooseAndCall(deps, { requested: "sonnet", category: "balanced" }, { ...request, images: twoOfThree })).rejects.toThrow(/total 6\.0 MB.*at most 5 MB/);
    await expect(chooseAndCall(deps, { requested: "gemini-2.5-pro", category: "balanced" }, { ...request, images: [png(21 * 1024 * 1024)] })).rejects.toThrow(
      /at most 20 MB/,
    );
  });

  it("attack: reads no byte of images the chosen model refuses (two 19.9 MB images for a 20 MB model)", async () => {
    const sent = mockFetch(answer("never"));
    const deps = quickDeps();
    reads = 0;
    const large = [png(Math.round(19.9 * 1024 * 1024)), png(Math.round(19.9 * 1024 * 1024))];
    await expect(chooseAndCall(deps, { requested: "flash", category: "balanced" }, { ...request, images: large })).rejects.toThrow(
      /total 39\.8 MB; this server sends at most 20 MB per request/,
    );
    await expect(chooseAndCall(deps, { requested: "sonnet", category: "balanced" }, { ...request, images: [png(3 * 1024 * 1024), png(3 * 1024 * 1024)] })).rejects.toThrow(
      /claude-sonnet-4\.5 accepts at most 5 MB/,
    );
    expect(reads).toBe(0);
    expect(sent).toHaveLength(0);
  });

  it("holds no more image bytes at once than an isolate can: a call whose images do not fit waits for the one before", async () => {
    const twelve = 12 * 1024 * 1024;
    const sending = Promise.withResolvers<void>();
    const answered = Promise.withResolvers<void>();
    const first = withImagesRead([png(twelve)], undefined, async () => {
      sending.resolve();
      await answered.promise;
    });
    await sending.promise;
    reads = 0;
    const second = withImagesRead([png(twelve)], undefined, async (read) => read?.length);
    const cancelled = new AbortController();
    const third = withImagesRead([png(1024)], cancelled.signal, async () => "sent");
    // Were the second call granted room, it would read its image within this turn.
    await scheduler.wait(0);
    expect(reads).toBe(0);
    // One that gives up while waiting leaves the queue, and sends nothing.
    cancelled.abort(new Error("the client hung up"));
    await expect(third).rejects.toThrow("the client hung up");
    answered.resolve();
    await first;
    expect(await second).toBe(1);
    expect(reads).toBe(1);
    // All the room is back.
    expect(await withImagesRead([png(20 * 1024 * 1024)], undefined, async (read) => read?.length)).toBe(1);
  });

  it("sends images a vision model accepts", async () => {
    const sent = mockFetch(answer("a chart"));
    const deps = quickDeps();
    await chooseAndCall(deps, { requested: "flash", category: "balanced" }, { ...request, images: [png(1000)] });
    const parts = (sent[0]?.body["contents"] as Array<{ parts: unknown[] }>)[0]?.parts;
    expect(parts?.[1]).toMatchObject({ inlineData: { mimeType: "image/png" } });
    await deps.settle();
  });

  it("reports a cancelled call as aborted, without counting it", async () => {
    mockFetch(answer("never"));
    const deps = quickDeps();
    await expect(chooseAndCall(deps, { requested: "flash", category: "balanced" }, request, { signal: AbortSignal.abort() })).rejects.toMatchObject({ kind: "aborted" });
    await deps.settle();
    expect((await realEnv.BREAKERS.getByName("test:google").state(settingsOf(deps.config))).consecutiveFailures).toBe(0);
  });
});
