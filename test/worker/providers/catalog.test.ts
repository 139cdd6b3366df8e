import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../../src/core/config.ts";
import { parseProviders, PROVIDERS } from "../../../src/providers/catalog";
import { ALL_PROVIDERS } from "./support";

/** The message of what `read` throws, which must be a ConfigError. */
function configError(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("no ConfigError was thrown");
}

describe("the provider catalog", () => {
  it("resolves the keyed providers first and Workers AI last", () => {
    expect(PROVIDERS.map((p) => p.id)).toEqual(["google", "openai", "azure", "xai", "anthropic", "dial", "custom", "openrouter", "workers-ai"]);
    expect(parseProviders({ ...ALL_PROVIDERS, AI: {} }).map((p) => p.id)).toEqual(PROVIDERS.map((p) => p.id));
  });

  it("gives each configured provider its descriptor's facts and its models", () => {
    const [google] = parseProviders({ GEMINI_API_KEY: "k", GOOGLE_ALLOWED_MODELS: "Flash, pro" });
    expect(google).toMatchObject({ id: "google", label: "Gemini", keyVariable: "GEMINI_API_KEY", apiKey: "k", baseUrl: "https://generativelanguage.googleapis.com" });
    expect(google?.allowedModels).toEqual(new Set(["flash", "pro"]));
    expect(google?.models.length).toBeGreaterThan(0);
  });

  it("configures a provider only when its key (or URL) is set, and not with an example file's placeholder", () => {
    expect(parseProviders({ GEMINI_API_KEY: "your_gemini_api_key_here", AZURE_OPENAI_API_KEY: "k", CUSTOM_API_KEY: "k" })).toEqual([]);
    // A provider that is not configured ignores its other variables.
    expect(parseProviders({ OPENAI_BASE_URL: "not a url", DIAL_API_VERSION: "" })).toEqual([]);
  });

  it("names the variable it cannot use, never its value", () => {
    const url = configError(() => parseProviders({ GEMINI_API_KEY: "k", GEMINI_BASE_URL: "ftp://user:hunter2@host" }));
    expect(url).toBe("GEMINI_BASE_URL must be an http(s) URL.");
    const azure = { AZURE_OPENAI_API_KEY: "k", AZURE_OPENAI_ENDPOINT: "https://res.test" };
    expect(configError(() => parseProviders({ ...azure, AZURE_MODELS: "{secret" }))).toMatch(/^AZURE_MODELS must be JSON: /);
    expect(configError(() => parseProviders({ ...azure, AZURE_MODELS: '"secret"' }))).toMatch(/^AZURE_MODELS must be JSON: /);
    expect(configError(() => parseProviders({ CUSTOM_API_URL: "mailto:secret@example.com" }))).toBe("CUSTOM_API_URL must be an http(s) URL.");
  });
});

describe("the server's configuration", () => {
  it("reads defaults, and refuses a value out of range or of the wrong kind by the variable's name", () => {
    const config = parseConfig({});
    expect(config).toMatchObject({ defaultModel: "auto", promptSizeLimit: 60_000, teamTokens: null, providerCall: { deadlineMs: 600_000, maxAttempts: 4 } });
    expect(parseConfig({ MAX_MCP_OUTPUT_TOKENS: "10000" }).promptSizeLimit).toBe(24_000);
    expect(parseConfig({ DISABLED_TOOLS: " Chat, ,debug " }).disabledTools).toEqual(new Set(["chat", "debug"]));
    expect(configError(() => parseConfig({ PROVIDER_MAX_ATTEMPTS: "99" }))).toBe("PROVIDER_MAX_ATTEMPTS must be a whole number from 1 to 10.");
    expect(configError(() => parseConfig({ DEFAULT_THINKING_MODE_THINKDEEP: "extreme" }))).toBe(
      "DEFAULT_THINKING_MODE_THINKDEEP must be one of minimal, low, medium, high, max.",
    );
    expect(configError(() => parseConfig({ ALLOW_UNAUTHENTICATED: "yes" }))).toBe("ALLOW_UNAUTHENTICATED must be true or false.");
    expect(configError(() => parseConfig({ LOCALE: 42 }))).toBe("LOCALE must be a string, got number.");
    expect(configError(() => parseConfig({ TEAM_TOKENS: "{secret" }))).toMatch(/^TEAM_TOKENS must be JSON mapping/);
    expect(configError(() => parseConfig({ TEAM_TOKENS: '{"secret":"team"}' }))).toMatch(/^TEAM_TOKENS must map lower-case SHA-256/);
  });
});
