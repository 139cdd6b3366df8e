import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/core/config.ts";
import { parseModelEntry } from "../../src/providers/capabilities";
import { parseProviders, PROVIDERS, shippedModelsOf } from "../../src/providers/catalog";
import { ModelRegistry, splitOption } from "../../src/providers/registry";

describe("shipped model registries", () => {
  it("parse for every provider, and no name or alias points to two models of a provider", () => {
    for (const { id: provider } of PROVIDERS) {
      const names = shippedModelsOf(provider).flatMap((m) => [...new Set([m.modelName.toLowerCase(), ...m.aliases])]);
      expect(new Set(names).size, provider).toBe(names.length);
    }
    expect(shippedModelsOf("google").length).toBe(8);
    expect(shippedModelsOf("openai").length).toBe(18);
  });

  it("take list prices only as a pair, per million tokens", () => {
    const entry = { model_name: "m", context_window: 1_000, max_output_tokens: 100 };
    expect(parseModelEntry("custom", { ...entry, input_price_per_mtok: 1.5, output_price_per_mtok: 6 }, "test").prices).toEqual({ inputPerMtok: 1.5, outputPerMtok: 6 });
    expect(parseModelEntry("custom", entry, "test").prices).toBeUndefined();
    expect(() => parseModelEntry("custom", { ...entry, input_price_per_mtok: 1.5 }, "test")).toThrow(/set both or neither/);
    expect(() => parseModelEntry("custom", { ...entry, input_price_per_mtok: -1, output_price_per_mtok: 1 }, "test")).toThrow(/input_price_per_mtok/);
    expect(shippedModelsOf("openai").find((m) => m.modelName === "gpt-5")?.prices).toEqual({ inputPerMtok: 1.25, outputPerMtok: 10 });
  });
});

describe("ModelRegistry", () => {
  const registry = (vars: Record<string, string>) => new ModelRegistry(parseConfig(vars), parseProviders(vars));

  it("resolves aliases case-insensitively by provider priority, OpenRouter last", () => {
    const both = registry({ GEMINI_API_KEY: "k", OPENROUTER_API_KEY: "k" });
    expect(both.resolve("FLASH").provider.id).toBe("google");
    expect(both.resolve("flash").capabilities.modelName).toBe("gemini-3.8-flash");
    expect(both.resolve("pro").capabilities.modelName).toBe("gemini-3.1-pro-preview");
    expect(both.resolve("flash-lite").capabilities.modelName).toBe("gemini-3.5-flash-lite");
    expect(registry({ OPENROUTER_API_KEY: "k" }).resolve("flash").provider.id).toBe("openrouter");
    expect(both.resolve("mistralai/some-new-model").capabilities.contextWindow).toBe(32_768);
  });

  it("resolves a registered name that holds a colon (found by the fault matrix: DIAL's Bedrock names were listed but refused)", () => {
    const dial = registry({ DIAL_API_KEY: "k" });
    const model = dial.resolve("anthropic.claude-sonnet-4.1-20250805-v1:0");
    expect(model).toMatchObject({ provider: { id: "dial" }, capabilities: { modelName: "anthropic.claude-sonnet-4.1-20250805-v1:0" } });
    expect(model.option).toBeUndefined();
    expect(dial.resolve("anthropic.claude-opus-4.1-20250805-v1:0-with-thinking").capabilities.modelName).toBe(
      "anthropic.claude-opus-4.1-20250805-v1:0-with-thinking",
    );
    // An option on an ordinary name is still split off.
    expect(registry({ CUSTOM_API_URL: "http://local.test/v1" }).resolve("llama3.2:8b")).toMatchObject({ option: "8b", capabilities: { modelName: "llama3.2" } });
  });

  it("applies allow-lists, accepting an alias for its model", () => {
    const restricted = registry({ OPENAI_API_KEY: "k", OPENAI_ALLOWED_MODELS: "mini, o3" });
    expect(restricted.available().map((m) => m.modelName).sort()).toEqual(["gpt-5-mini", "o3"]);
    expect(() => restricted.resolve("gpt-5")).toThrow(/not allowed by restriction policy/);
    expect(() => restricted.resolve("nonsense")).toThrow(/not available.*gpt-5-mini/);
  });

  it("picks auto-mode models by category: each provider's current models, not the retired ones", () => {
    const keyed = registry({ GEMINI_API_KEY: "k", OPENAI_API_KEY: "k", XAI_API_KEY: "k", ANTHROPIC_API_KEY: "k" });
    expect(keyed.autoMode).toBe(true);
    const picks = (category: "extended_reasoning" | "fast_response" | "balanced") =>
      keyed.candidatesFor(category).map((c) => `${c.provider.id}/${c.capabilities.modelName}`);
    expect(picks("extended_reasoning")).toEqual(["google/gemini-3.1-pro-preview", "openai/gpt-5.5", "xai/grok-4.7", "anthropic/claude-opus-5-5"]);
    expect(picks("fast_response")).toEqual(["google/gemini-3.8-flash", "openai/gpt-5.4-mini", "xai/grok-4.20-0309-reasoning", "anthropic/claude-haiku-5-5"]);
    expect(picks("balanced")).toEqual(["google/gemini-3.8-flash", "openai/gpt-5.4", "xai/grok-4.20-0309-reasoning", "anthropic/claude-sonnet-5-5"]);
    expect(registry({ OPENAI_API_KEY: "k", DEFAULT_MODEL: "o3" }).autoMode).toBe(false);
  });

  it("goes along the preference list when an allow-list leaves out the newest models", () => {
    const older = registry({ ANTHROPIC_API_KEY: "k", ANTHROPIC_ALLOWED_MODELS: "sonnet-4.5, haiku-4.5" });
    expect(older.candidatesFor("extended_reasoning")[0]?.capabilities.modelName).toBe("claude-sonnet-4-5");
    expect(older.candidatesFor("fast_response")[0]?.capabilities.modelName).toBe("claude-haiku-4-5");
  });

  it("splits model:option except for vendor/model names", () => {
    expect(splitOption("llama3.2:8b")).toEqual({ name: "llama3.2", option: "8b" });
    expect(splitOption("meta/llama:free")).toEqual({ name: "meta/llama:free" });
  });
});
