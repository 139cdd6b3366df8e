import { createScheduledController } from "cloudflare:test";
import { env as workerEnv } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError, parseConfig } from "../../src/core/config.ts";
import type { Env } from "../../src/core/env.ts";
import { parseProviders } from "../../src/providers/catalog";
import {
  CATALOG_ATTEMPT_KEY,
  CATALOG_KEY,
  catalogStatusOf,
  describeCatalog,
  fetchCatalog,
  forgetCatalogCopy,
  loadCatalog,
  MAX_CATALOG_BYTES,
  MAX_CATALOG_ENTRIES,
  refreshCatalog,
  type ModelCatalog,
} from "../../src/providers/model-catalog";
import { ModelRegistry, registryFor } from "../../src/providers/registry";
import { estimatedCost, priceNote, priceSourceOf } from "../../src/providers/usage";
import type { CallResult } from "../../src/providers/call";
import { renderModelListing } from "../../src/tools/listmodels";
import worker from "../../src/worker";
import { openRouterModel } from "../fixtures/model-catalog.ts";

const SOURCE = "https://catalog.test/api/v1/models";
const env = workerEnv as unknown as Env;

/** Answers the catalog's fetch with `body` (a Response, or JSON). */
function serveCatalog(body: unknown): void {
  vi.spyOn(globalThis, "fetch").mockImplementation(async () => (body instanceof Response ? body : Response.json(body)));
}

const NEW_MODEL = openRouterModel("openai/gpt-6-preview", { context: 1_000_000, maxOutput: 100_000, input: 1.25, output: 10, images: true, reasoning: true, temperature: false });

afterEach(() => {
  vi.restoreAllMocks();
  forgetCatalogCopy();
});

describe("fetching the catalog (OpenRouter's shape)", () => {
  it("normalises models to their limits, images, parameters and prices per million tokens, leaving out what does not fit", async () => {
    const variablePrice = { ...openRouterModel("openrouter/auto"), pricing: { prompt: "-1", completion: "-1", request: "0", image: "0", web_search: "0", internal_reasoning: "0" } };
    const noContext = { ...openRouterModel("vendor/broken"), context_length: null };
    serveCatalog({ data: [NEW_MODEL, variablePrice, noContext, openRouterModel("x-ai/grok-9", { maxOutput: null })] });
    const { catalog, skipped } = await fetchCatalog(SOURCE, new Date("2026-12-05T10:00:00Z"));
    expect(skipped).toBe(1);
    expect(catalog).toMatchObject({ source: SOURCE, fetchedAt: "2026-12-05T10:00:00.000Z" });
    expect(catalog.entries).toEqual([
      { id: "openai/gpt-6-preview", contextWindow: 1_000_000, maxOutputTokens: 100_000, inputPerMtok: 1.25, outputPerMtok: 10, images: true, reasoning: true, temperature: false },
      { id: "openrouter/auto", contextWindow: 128_000, maxOutputTokens: 32_768, images: false, reasoning: false, temperature: true },
      { id: "x-ai/grok-9", contextWindow: 128_000, inputPerMtok: 1, outputPerMtok: 4, images: false, reasoning: false, temperature: true },
    ]);
  });

  it("refuses a body that is not JSON, has the wrong shape, no usable model, too many models, an error status, or no connection", async () => {
    const refusals: Array<[unknown, RegExp]> = [
      [new Response('{"data": [{"id": "openai/gpt-'), /not JSON/],
      [{ models: [NEW_MODEL] }, /"data" array/],
      [{ data: [{ id: "a" }, { id: "b", context_length: "big" }] }, /no model in it has an id and a context_length/],
      [{ data: Array.from({ length: MAX_CATALOG_ENTRIES + 1 }, (_, i) => ({ id: `v/m${i}`, context_length: 1 })) }, /5001 models, over the limit of 5000/],
      [new Response("busy", { status: 503 }), /HTTP 503/],
    ];
    for (const [body, message] of refusals) {
      vi.restoreAllMocks();
      serveCatalog(body);
      await expect(fetchCatalog(SOURCE)).rejects.toThrow(message);
    }
    vi.restoreAllMocks();
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Network connection lost."));
    await expect(fetchCatalog(SOURCE)).rejects.toThrow(/could not be reached/);
  });

  it("stops reading past the byte limit, whether the length is declared or only streamed", async () => {
    serveCatalog(new Response("{}", { headers: { "content-length": String(MAX_CATALOG_BYTES + 1) } }));
    await expect(fetchCatalog(SOURCE)).rejects.toThrow(/bytes takes the catalog over its 8388608-byte limit/);

    vi.restoreAllMocks();
    let pulled = 0;
    const chunk = new Uint8Array(1024 * 1024).fill(32);
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(chunk);
      },
    });
    serveCatalog(new Response(endless));
    await expect(fetchCatalog(SOURCE)).rejects.toThrow(/over its 8388608-byte limit/);
    // It cancelled the body instead of reading on: at most the limit and a chunk were pulled.
    expect(pulled).toBeLessThanOrEqual(MAX_CATALOG_BYTES / chunk.byteLength + 2);
  });
  it("follows OpenRouter's pages (links.next) on the catalog's own origin, within one byte budget", async () => {
    const pages: Record<string, unknown> = {
      "/api/v1/models": { data: [NEW_MODEL], links: { next: "/api/v1/models?offset=1&limit=1" } },
      "/api/v1/models?offset=1&limit=1": { data: [openRouterModel("x-ai/grok-9")], links: { next: null } },
    };
    const asked: string[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      asked.push(url.href);
      return Response.json(pages[url.pathname + url.search]);
    });
    const { catalog } = await fetchCatalog(SOURCE);
    expect(catalog.entries.map((entry) => entry.id)).toEqual(["openai/gpt-6-preview", "x-ai/grok-9"]);
    expect(asked).toEqual([SOURCE, "https://catalog.test/api/v1/models?offset=1&limit=1"]);

    vi.restoreAllMocks();
    serveCatalog({ data: [NEW_MODEL], links: { next: "https://elsewhere.test/api/v1/models?offset=1" } });
    await expect(fetchCatalog(SOURCE)).rejects.toThrow(/next page https:\/\/elsewhere.test is on another origin/);

    // Each page under the limit, together over it.
    vi.restoreAllMocks();
    const half = JSON.stringify({ data: [NEW_MODEL], links: { next: "/api/v1/models?again" }, padding: " ".repeat(MAX_CATALOG_BYTES / 2) });
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => new Response(half));
    await expect(fetchCatalog(SOURCE)).rejects.toThrow(/over its 8388608-byte limit/);
  });
});

describe("refreshing (the cron trigger's work)", () => {
  it("stores a good catalog and its attempt; a failed refresh keeps the last good catalog and records why", async () => {
    await env.CACHE.delete(CATALOG_KEY);
    serveCatalog({ data: [NEW_MODEL] });
    const good = await refreshCatalog(env, SOURCE, new Date("2026-12-05T04:17:00Z"));
    expect(good).toMatchObject({ ok: true, entries: 1, skipped: 0, source: SOURCE });
    expect(await env.CACHE.get<ModelCatalog>(CATALOG_KEY, "json")).toMatchObject({ source: SOURCE, entries: [{ id: "openai/gpt-6-preview" }] });

    vi.restoreAllMocks();
    serveCatalog(new Response("not json"));
    const failed = await refreshCatalog(env, SOURCE, new Date("2026-12-06T04:17:00Z"));
    expect(failed).toMatchObject({ ok: false, at: "2026-12-06T04:17:00.000Z" });
    expect(failed.error).toContain(`The model catalog at ${SOURCE}: the body is not JSON. The last good catalog is kept.`);
    expect(await env.CACHE.get(CATALOG_ATTEMPT_KEY, "json")).toEqual(failed);

    // Another isolate (no copy yet) reads both from KV.
    forgetCatalogCopy();
    const state = await loadCatalog(env);
    expect(state.catalog?.entries.map((e) => e.id)).toEqual(["openai/gpt-6-preview"]);
    expect(state.attempt).toEqual(failed);
    const status = catalogStatusOf(state, Date.parse("2026-12-06T06:17:00Z"));
    expect(status.current).toEqual({ source: SOURCE, fetchedAt: "2026-12-05T04:17:00.000Z", age: "26 h", models: 1 });
    expect(describeCatalog(status, null)).toMatch(/^1 model from https:\/\/catalog\.test\/api\/v1\/models, fetched 2026-12-05T04:17:00\.000Z \(26 h ago\); the last refresh \(2026-12-06T04:17:00\.000Z\) failed: .*not JSON/);
  });
});

describe("an isolate's copy of the catalog", () => {
  it("keeps what it has when KV cannot be read, and tries again only after its minute", async () => {
    serveCatalog({ data: [NEW_MODEL] });
    await refreshCatalog(env, SOURCE);
    forgetCatalogCopy();
    expect((await loadCatalog(env)).catalog?.entries).toHaveLength(1);
    vi.useFakeTimers({ now: Date.now() + 61_000, toFake: ["Date"] });
    try {
      let reads = 0;
      const broken = { ...env, CACHE: { get: async () => (reads++, Promise.reject(new Error("KV is down"))) } } as unknown as Env;
      vi.spyOn(console, "warn").mockImplementation(() => undefined);
      expect((await loadCatalog(broken)).catalog?.entries).toHaveLength(1);
      expect((await loadCatalog(broken)).catalog?.entries).toHaveLength(1);
      // One load reads its two keys; the second load, within the minute, reads nothing.
      expect(reads).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("the worker's scheduled handler (the cron trigger)", () => {
  it("refreshes from MODEL_CATALOG_URL, and only logs when the configuration cannot be read", async () => {
    const sent: string[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
      sent.push(String(input instanceof Request ? input.url : input));
      return Response.json({ data: [NEW_MODEL] });
    });
    await worker.scheduled(createScheduledController(), { ...env, MODEL_CATALOG_URL: SOURCE });
    expect(sent).toEqual([SOURCE]);
    expect(await env.CACHE.get(CATALOG_ATTEMPT_KEY, "json")).toMatchObject({ ok: true, source: SOURCE, entries: 1 });

    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    await worker.scheduled(createScheduledController(), { ...env, MODEL_CATALOG_URL: "ftp://catalog.test" });
    expect(sent).toHaveLength(1);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("MODEL_CATALOG_URL must be an http(s) URL"));
  });
});

const catalog: ModelCatalog = {
  source: SOURCE,
  fetchedAt: "2026-12-05T04:17:00.000Z",
  entries: [
    { id: "openai/gpt-6-preview", contextWindow: 1_000_000, maxOutputTokens: 100_000, inputPerMtok: 2, outputPerMtok: 8, images: true, reasoning: true, temperature: false },
    { id: "openai/gpt-6-preview:free", contextWindow: 1_000, images: false, reasoning: false, temperature: true },
    { id: "openai/gpt-5", contextWindow: 400_000, maxOutputTokens: 128_000, inputPerMtok: 1.5, outputPerMtok: 12, images: true, reasoning: true, temperature: true },
    { id: "anthropic/claude-opus-4.1", contextWindow: 200_000, maxOutputTokens: 32_000, inputPerMtok: 15, outputPerMtok: 75, images: true, reasoning: true, temperature: true },
    { id: "meta-llama/llama-5-400b", contextWindow: 256_000, inputPerMtok: 0.5, outputPerMtok: 1.5, images: false, reasoning: false, temperature: true },
  ],
};

function registryOf(vars: Record<string, string>, over: ModelCatalog | null = catalog): ModelRegistry {
  const config = parseConfig(vars);
  return new ModelRegistry(config, parseProviders(vars, { catalog: over, overrides: config.modelOverrides }), over);
}

describe("the catalog layered under our data and the deploy's overrides", () => {
  it("makes a model only the catalog lists usable by its bare name through the provider's own key, with the catalog's facts", () => {
    const registry = registryOf({ OPENAI_API_KEY: "k" });
    const model = registry.resolve("gpt-6-preview");
    expect(model.provider.id).toBe("openai");
    expect(model.note).toBeUndefined();
    expect(model.capabilities).toMatchObject({
      modelName: "gpt-6-preview",
      contextWindow: 1_000_000,
      maxOutputTokens: 100_000,
      supportsImages: true,
      supportsExtendedThinking: true,
      supportsTemperature: false,
      prices: { inputPerMtok: 2, outputPerMtok: 8 },
      catalogOnly: true,
    });
    // OpenRouter's own variants are not the provider's models.
    expect(registry.modelsOf("openai").map((m) => m.modelName)).not.toContain("gpt-6-preview:free");
    // Auto mode keeps to curated models.
    expect(registry.candidatesFor("extended_reasoning").map((c) => c.capabilities.modelName)).toEqual(["gpt-5.5"]);
    // Without the catalog the same name is only passed through, with generic limits and a note.
    const offline = registryOf({ OPENAI_API_KEY: "k" }, null).resolve("gpt-6-preview");
    expect(offline.capabilities).toMatchObject({ contextWindow: 32_768, maxOutputTokens: 32_768 });
    expect(offline.note).toMatch(/in no model catalog here: it was sent to OpenAI as named, with generic limits/);
  });

  it("takes limits, images and prices of a model we ship from the catalog and keeps our curated facts", () => {
    const registry = registryOf({ OPENAI_API_KEY: "k", ANTHROPIC_API_KEY: "k" });
    const gpt5 = registry.resolve("gpt5").capabilities;
    expect(gpt5).toMatchObject({ modelName: "gpt-5", prices: { inputPerMtok: 1.5, outputPerMtok: 12 }, intelligenceScore: 16, aliases: ["gpt5", "gpt-5"], temperatureConstraint: "fixed" });
    expect(gpt5.catalogOnly).toBeUndefined();
    // The catalog's dotted Anthropic version is the Messages API's dashed name.
    expect(registry.resolve("claude-opus-4-1").capabilities).toMatchObject({ prices: { inputPerMtok: 15, outputPerMtok: 75 }, maxOutputTokens: 32_000 });
    expect(registry.modelsOf("anthropic").filter((m) => m.modelName.startsWith("claude-opus-4"))).toHaveLength(2);
  });

  it("serves the catalog's vendor/model ids through OpenRouter with their facts, and others with generic limits and a note", () => {
    const registry = registryOf({ OPENROUTER_API_KEY: "k" });
    const listed = registry.resolve("meta-llama/llama-5-400b");
    expect(listed.capabilities).toMatchObject({ contextWindow: 256_000, prices: { inputPerMtok: 0.5, outputPerMtok: 1.5 } });
    expect(listed.note).toBeUndefined();
    const unknown = registry.resolve("acme/unheard-of-1");
    expect(unknown.capabilities.contextWindow).toBe(32_768);
    expect(unknown.note).toMatch(/sent to OpenRouter as named/);
  });

  it("passes a name in no catalog to the provider it clearly belongs to: prefix, naming family, or the only one; allow-lists still apply", () => {
    const openaiOnly = registryOf({ OPENAI_API_KEY: "k" }, null);
    expect(openaiOnly.resolve("openai/gpt-9")).toMatchObject({ provider: { id: "openai" }, capabilities: { modelName: "gpt-9" } });
    expect(openaiOnly.resolve("openai/gpt-5")).toMatchObject({ provider: { id: "openai" }, capabilities: { modelName: "gpt-5", intelligenceScore: 16 } });
    expect(openaiOnly.resolve("house-model").provider.id).toBe("openai");
    // Not what belongs to another provider or vendor, even when OpenAI is the only one configured.
    expect(() => openaiOnly.resolve("grok-9")).toThrow(/not available/);
    expect(() => openaiOnly.resolve("x-ai/grok-9")).toThrow(/not available/);
    expect(() => openaiOnly.resolve("mistralai/mistral-9")).toThrow(/not available/);

    const two = registryOf({ OPENAI_API_KEY: "k", GEMINI_API_KEY: "k" }, null);
    expect(two.resolve("gemini-4-ultra")).toMatchObject({ provider: { id: "google" }, note: expect.stringContaining("sent to Gemini") });
    expect(two.resolve("o7-mini").provider.id).toBe("openai");
    expect(() => two.resolve("house-model")).toThrow(/not available with current API keys/);
    expect(() => two.resolve("grok-9")).toThrow(/not available/);
    // Another provider beside the only direct one (here the custom endpoint) takes the "only one" rule away.
    expect(() => registryOf({ OPENAI_API_KEY: "k", CUSTOM_API_URL: "http://local.test/v1" }, null).resolve("house-model")).toThrow(/not available/);

    const restricted = registryOf({ OPENAI_API_KEY: "k", OPENAI_ALLOWED_MODELS: "gpt-5,gpt-9" }, null);
    expect(restricted.resolve("gpt-9").provider.id).toBe("openai");
    expect(() => restricted.resolve("gpt-10")).toThrow(/not available/);
    expect(() => registryOf({ OPENAI_API_KEY: "k", OPENAI_ALLOWED_MODELS: "gpt-5" }).resolve("gpt-6-preview")).toThrow(/not allowed by restriction policy/);
  });

  it("lays MODEL_OVERRIDES over the catalog and our data, and refuses a bad one naming the variable", () => {
    const overrides = { openai: { "gpt-5": { input_price_per_mtok: 3, output_price_per_mtok: 9 }, "gpt-house": { context_window: 64_000, max_output_tokens: 8_000, aliases: ["house"] } } };
    const registry = registryOf({ OPENAI_API_KEY: "k", MODEL_OVERRIDES: JSON.stringify(overrides) });
    expect(registry.resolve("gpt-5").capabilities).toMatchObject({ prices: { inputPerMtok: 3, outputPerMtok: 9 }, contextWindow: 400_000 });
    expect(registry.resolve("house").capabilities).toMatchObject({ modelName: "gpt-house", contextWindow: 64_000 });
    expect(registry.resolve("house").capabilities.catalogOnly).toBeUndefined();

    const refused = (value: string) => () => registryOf({ OPENAI_API_KEY: "k", MODEL_OVERRIDES: value });
    expect(refused("{not json")).toThrow(/^MODEL_OVERRIDES must be JSON/);
    expect(refused('{"openai": ["gpt-5"]}')).toThrow(ConfigError);
    expect(refused('{"acme": {"m": {}}}')).toThrow(/MODEL_OVERRIDES names 'acme', which is not a provider here/);
    expect(refused('{"azure": {"m": {}}}')).toThrow(/AZURE_MODELS/);
    expect(refused('{"openai": {"gpt-5": {"context_windw": 5}}}')).toThrow(/MODEL_OVERRIDES \(openai\): gpt-5 is not a valid model entry/);
    expect(refused('{"openai": {"brand-new": {"description": "no limits"}}}')).toThrow(/context_window/);
  });

  it("rebuilds an env's registry only when the catalog changes", () => {
    const vars = { OPENAI_API_KEY: "k" } as unknown as Env;
    const first = registryFor(vars, catalog);
    expect(registryFor(vars, catalog)).toBe(first);
    const next = registryFor(vars, { ...catalog, fetchedAt: "2026-12-06T04:17:00.000Z" });
    expect(next).not.toBe(first);
    expect(registryFor(vars, null).tryResolve("gpt-6-preview")?.note).toBeDefined();
  });
});

describe("prices and listings from the catalog", () => {
  it("prices a call at the catalog's price and names the source and its date", () => {
    const model = registryOf({ OPENAI_API_KEY: "k" }).resolve("gpt-6-preview");
    const call = { model, response: { usage: { inputTokens: 1_000, outputTokens: 500, totalTokens: 1_500 } } } as CallResult;
    // 1,000 input tokens at $2/M and 500 output tokens at $8/M.
    expect(estimatedCost(call)).toBeCloseTo(0.006, 12);
    const source = priceSourceOf(catalog);
    expect(source).toEqual({ kind: "catalog", source: SOURCE, asOf: "2026-12-05" });
    expect(priceNote(source)).toContain(`from the model catalog at ${SOURCE}, as of 2026-12-05`);
    expect(priceSourceOf(null)).toMatchObject({ kind: "shipped", source: "src/providers/models/*.json" });
    expect(priceNote(priceSourceOf(null))).toContain("the shipped model registry");
  });

  it("lists the catalog's models after the curated ones, with the catalog's source and age", () => {
    const registry = registryOf({ OPENAI_API_KEY: "k" });
    const listing = renderModelListing(registry, catalogStatusOf({ catalog, attempt: null }, Date.parse("2026-12-05T07:17:00Z")));
    expect(listing).toContain("From the model catalog (1):\n- `gpt-6-preview` (");
    expect(listing.indexOf("`gpt-5`")).toBeLessThan(listing.indexOf("From the model catalog"));
    expect(listing).toContain(`- Model catalog: 5 models from ${SOURCE}, fetched 2026-12-05T04:17:00.000Z (3 h ago)`);
    expect(renderModelListing(registryOf({ OPENAI_API_KEY: "k" }, null), catalogStatusOf({ catalog: null, attempt: null }))).toContain(
      "- Model catalog: none refreshed yet: the shipped registry",
    );
  });
});
