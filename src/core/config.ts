import { z } from "zod";
import type { Env } from "./env.ts";

/**
 * The providers this server can call, in the order a model name is resolved against them (and
 * auto mode tries them): the keyed providers first, so a key the operator set wins over Workers
 * AI, which needs no key.
 */
export const PROVIDER_IDS = ["google", "openai", "azure", "xai", "dial", "custom", "openrouter", "workers-ai"] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

export const THINKING_MODES = ["minimal", "low", "medium", "high", "max"] as const;
export type ThinkingMode = (typeof THINKING_MODES)[number];

export interface ProviderConfig {
  id: ProviderId;
  apiKey: string;
  baseUrl: string;
  /** Lower-cased names and aliases from `*_ALLOWED_MODELS`; null means every model is allowed. */
  allowedModels: ReadonlySet<string> | null;
  /** Azure and DIAL put an api-version on every URL. */
  apiVersion?: string;
  /** OpenRouter's attribution headers. */
  referer?: string;
  title?: string;
  /** The custom endpoint's default model, and Azure's model list (JSON in `AZURE_MODELS`). */
  modelName?: string;
  models?: unknown[];
}

export interface Config {
  defaultModel: string;
  defaultThinkingModeThinkdeep: ThinkingMode;
  locale: string;
  disabledTools: ReadonlySet<string>;
  promptSizeLimit: number;
  conversationTimeoutHours: number;
  maxConversationTurns: number;
  /** Configured providers only, in resolution order. */
  providers: ProviderConfig[];
  /** SHA-256 (hex) of each bearer token -> team id; null serves the single team "default". */
  teamTokens: ReadonlyMap<string, string> | null;
  /** Without TEAM_TOKENS: serve hosts other than loopback too, unauthenticated (ALLOW_UNAUTHENTICATED). */
  allowUnauthenticated: boolean;
  /**
   * Per minute: tool calls that reach a model, per team and per token; requests to /mcp, /v1/*
   * and the status page per team; and, per client address, what no token pays for (OAuth
   * registration and authorization, failed authentications). 0 turns a limit off.
   */
  rateLimits: RateLimits;
  allowedHostnames: string[];
  maxRequestBodyBytes: number;
  /** Upload limits; a multipart part is a whole number of 1 MiB chunks. */
  blobs: { maxBytes: number; teamQuotaBytes: number; partChunks: number };
  breaker: { failureThreshold: number; cooldownMs: number };
  providerCall: { deadlineMs: number; maxAttempts: number };
}

export interface RateLimits {
  /** Tool calls that reach a model, per minute per team and per team token. */
  teamPerMinute: number;
  tokenPerMinute: number;
  /** Requests of any kind per minute per team: a bound against abuse, far above what sessions need. */
  requestsPerMinute: number;
  addressPerMinute: number;
}

/**
 * A configuration value that cannot be used; the message names the variable and what it accepts,
 * never the value (it may be a secret, or a URL with credentials in it).
 */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const DEFAULT_BASE_URLS: Record<ProviderId, string> = {
  google: "https://generativelanguage.googleapis.com",
  openai: "https://api.openai.com/v1",
  azure: "",
  xai: "https://api.x.ai/v1",
  dial: "https://core.dialx.ai",
  custom: "",
  openrouter: "https://openrouter.ai/api/v1",
  "workers-ai": "",
};

type Vars = Record<string, unknown>;

function text(vars: Vars, name: string, fallback = ""): string {
  const value = vars[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "string") throw new ConfigError(`${name} must be a string, got ${typeof value}.`);
  return value.trim() === "" ? fallback : value.trim();
}

function integer(vars: Vars, name: string, fallback: number, min: number, max: number): number {
  const raw = text(vars, name);
  if (raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}.`);
  }
  return value;
}

function oneOf<T extends string>(vars: Vars, name: string, allowed: readonly T[], fallback: T): T {
  const raw = text(vars, name).toLowerCase();
  if (raw === "") return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(", ")}.`);
  }
  return raw as T;
}

function flag(vars: Vars, name: string): boolean {
  const raw = text(vars, name, "false");
  if (raw !== "true" && raw !== "false") throw new ConfigError(`${name} must be true or false.`);
  return raw === "true";
}

function url(vars: Vars, name: string, fallback: string): string {
  const raw = text(vars, name, fallback);
  if (raw === "") return "";
  if (!URL.canParse(raw) || !/^https?:$/.test(new URL(raw).protocol)) {
    throw new ConfigError(`${name} must be an http(s) URL.`);
  }
  return raw.replace(/\/+$/, "");
}

function list(vars: Vars, name: string): string[] {
  return text(vars, name)
    .split(",")
    .map((item) => item.trim().toLowerCase())
    .filter((item) => item !== "");
}

/** A key is set when it is non-empty and not the `your_..._here` placeholder of example files. */
function key(vars: Vars, name: string): string {
  const value = text(vars, name);
  return /^your_.*_here$/i.test(value) ? "" : value;
}

function allowList(vars: Vars, ...names: string[]): ReadonlySet<string> | null {
  const entries = names.flatMap((name) => list(vars, name));
  return entries.length > 0 ? new Set(entries) : null;
}

const teamTokensSchema = z.record(z.string().regex(/^[0-9a-f]{64}$/), z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/));

function teamTokens(vars: Vars): ReadonlyMap<string, string> | null {
  const raw = text(vars, "TEAM_TOKENS");
  if (raw === "") return null;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError('TEAM_TOKENS must be JSON mapping SHA-256 hex of a token to a team id, e.g. {"<64 hex>":"team-a"}.');
  }
  const parsed = teamTokensSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(
      "TEAM_TOKENS must map lower-case SHA-256 hex digests (64 characters) of tokens to team ids (letters, digits, _ . -, at most 64).",
    );
  }
  return new Map(Object.entries(parsed.data));
}

function azureModels(vars: Vars): unknown[] {
  const raw = text(vars, "AZURE_MODELS");
  if (raw === "") return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    const models = Array.isArray(parsed) ? parsed : (parsed as { models?: unknown }).models;
    if (Array.isArray(models)) return models;
  } catch {
    // fall through to the error below
  }
  throw new ConfigError('AZURE_MODELS must be JSON: an array of model entries (or {"models": [...]}), each with a "deployment".');
}

/** Which keyless providers the Worker's bindings make available: only their presence, never the bindings. */
export interface BoundProviders {
  /** An `AI` binding (Workers AI) exists on this deploy. */
  workersAi: boolean;
}

const NOTHING_BOUND: BoundProviders = { workersAi: false };

function providers(vars: Vars, bound: BoundProviders): ProviderConfig[] {
  const configured: ProviderConfig[] = [];
  const add = (id: ProviderId, apiKey: string, baseUrl: string, extra: Partial<ProviderConfig>, ...allowVars: string[]) => {
    configured.push({ id, apiKey, baseUrl, allowedModels: allowList(vars, ...allowVars), ...extra });
  };
  const gemini = key(vars, "GEMINI_API_KEY");
  if (gemini) add("google", gemini, url(vars, "GEMINI_BASE_URL", DEFAULT_BASE_URLS.google), {}, "GOOGLE_ALLOWED_MODELS");
  const openai = key(vars, "OPENAI_API_KEY");
  if (openai) add("openai", openai, url(vars, "OPENAI_BASE_URL", DEFAULT_BASE_URLS.openai), {}, "OPENAI_ALLOWED_MODELS");
  const azure = key(vars, "AZURE_OPENAI_API_KEY");
  const azureEndpoint = url(vars, "AZURE_OPENAI_ENDPOINT", "");
  if (azure && azureEndpoint) {
    const apiVersion = text(vars, "AZURE_OPENAI_API_VERSION", "2024-02-15-preview");
    add("azure", azure, azureEndpoint, { apiVersion, models: azureModels(vars) }, "AZURE_OPENAI_ALLOWED_MODELS", "AZURE_ALLOWED_MODELS");
  }
  const xai = key(vars, "XAI_API_KEY");
  if (xai) add("xai", xai, url(vars, "XAI_BASE_URL", DEFAULT_BASE_URLS.xai), {}, "XAI_ALLOWED_MODELS");
  const dial = key(vars, "DIAL_API_KEY");
  if (dial) {
    const apiVersion = text(vars, "DIAL_API_VERSION", "2024-12-01-preview");
    add("dial", dial, url(vars, "DIAL_API_HOST", DEFAULT_BASE_URLS.dial), { apiVersion }, "DIAL_ALLOWED_MODELS");
  }
  const customUrl = url(vars, "CUSTOM_API_URL", "");
  if (customUrl) {
    const modelName = text(vars, "CUSTOM_MODEL_NAME", "llama3.2");
    add("custom", key(vars, "CUSTOM_API_KEY"), customUrl, { modelName }, "CUSTOM_ALLOWED_MODELS");
  }
  const openrouter = key(vars, "OPENROUTER_API_KEY");
  if (openrouter) {
    add(
      "openrouter",
      openrouter,
      url(vars, "OPENROUTER_BASE_URL", DEFAULT_BASE_URLS.openrouter),
      { referer: text(vars, "OPENROUTER_REFERER", "https://github.com/zen-mcp-worker"), title: text(vars, "OPENROUTER_TITLE", "Zen MCP Worker") },
      "OPENROUTER_ALLOWED_MODELS",
    );
  }
  // Workers AI runs on the deploy's binding: present means configured, there is no key.
  if (bound.workersAi) add("workers-ai", "", DEFAULT_BASE_URLS["workers-ai"], {}, "WORKERS_AI_ALLOWED_MODELS");
  return configured;
}

function promptSizeLimit(vars: Vars): number {
  // The original derived the limit from the client's output-token cap when one was given.
  const outputTokens = integer(vars, "MAX_MCP_OUTPUT_TOKENS", 0, 0, 10_000_000);
  const fallback = outputTokens > 0 ? Math.floor(outputTokens * 0.6 * 4) : 60_000;
  return integer(vars, "MCP_PROMPT_SIZE_LIMIT", fallback, 1_000, 10_000_000);
}

function allowUnauthenticated(vars: Vars, tokens: ReadonlyMap<string, string> | null): boolean {
  const allowed = flag(vars, "ALLOW_UNAUTHENTICATED");
  if (allowed && tokens) {
    throw new ConfigError("ALLOW_UNAUTHENTICATED=true contradicts TEAM_TOKENS: unset one of them (with TEAM_TOKENS every request needs a token).");
  }
  return allowed;
}

/**
 * Parses the environment into a typed configuration; throws ConfigError naming a bad variable.
 * `bound` says which keyless providers the Worker's bindings offer.
 */
export function parseConfig(vars: Vars, bound: BoundProviders = NOTHING_BOUND): Config {
  const tokens = teamTokens(vars);
  return {
    defaultModel: text(vars, "DEFAULT_MODEL", "auto"),
    defaultThinkingModeThinkdeep: oneOf(vars, "DEFAULT_THINKING_MODE_THINKDEEP", THINKING_MODES, "high"),
    locale: text(vars, "LOCALE"),
    disabledTools: new Set(list(vars, "DISABLED_TOOLS")),
    promptSizeLimit: promptSizeLimit(vars),
    conversationTimeoutHours: integer(vars, "CONVERSATION_TIMEOUT_HOURS", 24, 1, 24 * 365),
    maxConversationTurns: integer(vars, "MAX_CONVERSATION_TURNS", 50, 2, 1_000),
    providers: providers(vars, bound),
    teamTokens: tokens,
    allowUnauthenticated: allowUnauthenticated(vars, tokens),
    rateLimits: {
      teamPerMinute: integer(vars, "RATE_LIMIT_PER_MINUTE", 600, 0, 1_000_000),
      tokenPerMinute: integer(vars, "RATE_LIMIT_PER_TOKEN_PER_MINUTE", 300, 0, 1_000_000),
      requestsPerMinute: integer(vars, "RATE_LIMIT_REQUESTS_PER_MINUTE", 6_000, 0, 10_000_000),
      addressPerMinute: integer(vars, "RATE_LIMIT_PER_ADDRESS_PER_MINUTE", 30, 0, 1_000_000),
    },
    allowedHostnames: list(vars, "ALLOWED_HOSTNAMES"),
    maxRequestBodyBytes: integer(vars, "MAX_REQUEST_BODY_BYTES", 4 * 1024 * 1024, 1_024, 100 * 1024 * 1024),
    blobs: {
      maxBytes: integer(vars, "MAX_BLOB_BYTES", 2 * 1024 ** 3, 1_024, 64 * 1024 ** 3),
      teamQuotaBytes: integer(vars, "TEAM_BLOB_QUOTA_BYTES", 50 * 1024 ** 3, 1_024, 1024 ** 5),
      partChunks: integer(vars, "BLOB_PART_MIB", 64, 1, 95),
    },
    breaker: {
      failureThreshold: integer(vars, "BREAKER_FAILURE_THRESHOLD", 5, 1, 1_000),
      cooldownMs: integer(vars, "BREAKER_COOLDOWN_SECONDS", 30, 1, 3_600) * 1_000,
    },
    providerCall: {
      deadlineMs: integer(vars, "PROVIDER_CALL_DEADLINE_SECONDS", 600, 1, 3_600) * 1_000,
      maxAttempts: integer(vars, "PROVIDER_MAX_ATTEMPTS", 4, 1, 10),
    },
  };
}

const parsedConfigs = new WeakMap<Env, Config>();

/** The configuration of a request's env, parsed once per env object. */
export function configOf(env: Env): Config {
  let config = parsedConfigs.get(env);
  if (!config) {
    config = parseConfig(env, { workersAi: env.AI !== undefined });
    parsedConfigs.set(env, config);
  }
  return config;
}
