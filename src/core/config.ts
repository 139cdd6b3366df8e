import { z } from "zod";
import type { Env } from "./env";
import { R2_MIN_PART_MIB } from "./rpc/blob";

export const THINKING_MODES = ["minimal", "low", "medium", "high", "max"] as const;
export type ThinkingMode = (typeof THINKING_MODES)[number];

/** The server's own settings; each provider reads its variables itself (src/providers/catalog.ts). */
export interface Config {
  defaultModel: string;
  defaultThinkingModeThinkdeep: ThinkingMode;
  locale: string;
  disabledTools: ReadonlySet<string>;
  promptSizeLimit: number;
  conversationTimeoutHours: number;
  maxConversationTurns: number;
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
  /**
   * Upload limits; a multipart part is a whole number of MiB, at least R2's smallest part. A blob no
   * manifest or live thread has referenced for `ttlDays` is deleted.
   */
  blobs: { maxBytes: number; teamQuotaBytes: number; partMib: number; ttlDays: number };
  breaker: { failureThreshold: number; cooldownMs: number };
  providerCall: { deadlineMs: number; maxAttempts: number };
  /** What a team may spend on models, in USD at list prices, per UTC day and per UTC month; null for no budget. */
  budgets: { usdPerDay: number | null; usdPerMonth: number | null };
  /** Where the cron trigger reads the public model catalog (OpenRouter's models list by default). */
  modelCatalogUrl: string;
  /** The deploy's own model facts, by provider and model name: partial entries laid over the catalog's and ours. */
  modelOverrides: ModelOverrides | null;
}

/** MODEL_OVERRIDES: `{"<provider>": {"<model name>": {<model entry fields>}}}`, checked field by field by the providers. */
export type ModelOverrides = Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;

/** OpenRouter's public models list, whose JSON shape every MODEL_CATALOG_URL must answer in. */
export const DEFAULT_MODEL_CATALOG_URL = "https://openrouter.ai/api/v1/models";

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

// Readers of one variable each, as zod schemas: a Worker var or secret (a string, or unset) in,
// a typed value out. Their messages say what the variable accepts, never what it holds.

/** Unset, null and blank all mean "not set"; a set value is trimmed. */
function unsetIfBlank(value: unknown): unknown {
  if (value === null || (typeof value === "string" && value.trim() === "")) return undefined;
  return typeof value === "string" ? value.trim() : value;
}

/** A variable's trimmed text, or undefined when it is not set. */
const variable = z.preprocess(unsetIfBlank, z.string({ error: (issue) => `must be a string, got ${typeof issue.input}` }).optional());

export function text(fallback = "") {
  return variable.transform((value) => value ?? fallback);
}

function integer(fallback: number, min: number, max: number) {
  return optionalInteger(min, max).transform((value) => value ?? fallback);
}

/** A whole number, or undefined when the variable is not set (its default depends on other settings). */
function optionalInteger(min: number, max: number) {
  const error = `must be a whole number from ${min} to ${max}`;
  return variable
    .transform((value) => (value === undefined ? undefined : Number(value)))
    .pipe(z.number({ error }).int({ error }).min(min, { error }).max(max, { error }).optional());
}

/** A positive amount of US dollars, or null when the variable is not set. */
function dollars() {
  const error = "must be a positive amount in US dollars, e.g. 25 or 2.50";
  return variable.transform((value) => (value === undefined ? null : Number(value))).pipe(z.number({ error }).positive({ error }).finite({ error }).nullable());
}

function oneOf<const T extends readonly [string, ...string[]]>(allowed: T, fallback: T[number]) {
  return variable.transform((value) => value?.toLowerCase() ?? fallback).pipe(z.enum(allowed, { error: `must be one of ${allowed.join(", ")}` }));
}

function flag() {
  return variable.transform((value) => value ?? "false").pipe(z.enum(["true", "false"], { error: "must be true or false" }).transform((value) => value === "true"));
}

/** An http(s) URL without trailing slashes; "" when neither it nor the fallback is set. */
export function url(fallback = "") {
  return text(fallback)
    .refine((value) => value === "" || (URL.canParse(value) && /^https?:$/.test(new URL(value).protocol)), { error: "must be an http(s) URL" })
    .transform((value) => value.replace(/\/+$/, ""));
}

/** A comma-separated list, lower-cased. */
export function list() {
  return text().transform((value) =>
    value
      .split(",")
      .map((item) => item.trim().toLowerCase())
      .filter((item) => item !== ""),
  );
}

/** A key is set when it is non-empty and not the `your_..._here` placeholder of example files. */
export function key() {
  return text().transform((value) => (/^your_.*_here$/i.test(value) ? "" : value));
}

/** JSON text checked by `schema`, or undefined when not set; `notJson` says what the variable must hold. */
export function json<T>(schema: z.ZodType<T>, notJson: string) {
  return variable
    .transform((value, context): unknown => {
      if (value === undefined) return undefined;
      try {
        return JSON.parse(value);
      } catch {
        context.addIssue({ code: "custom", message: notJson });
        return z.NEVER;
      }
    })
    .pipe(schema.optional());
}

type Vars = Record<string, unknown>;

/** Reads `vars` with `schema`; throws a ConfigError naming the first variable it cannot use. */
export function readVariables<T>(schema: z.ZodType<T>, vars: Vars): T {
  const parsed = schema.safeParse(vars);
  if (parsed.success) return parsed.data;
  const [issue] = parsed.error.issues;
  throw new ConfigError(`${String(issue?.path[0] ?? "The configuration")} ${issue?.message ?? "is not valid"}.`);
}

const teamTokensSchema = z.record(z.string().regex(/^[0-9a-f]{64}$/), z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), {
  error: "must map lower-case SHA-256 hex digests (64 characters) of tokens to team ids (letters, digits, _ . -, at most 64)",
});

const MODEL_OVERRIDES_FORMAT = 'must be JSON: {"<provider>": {"<model name>": {<model entry fields>}}}, e.g. {"openai": {"gpt-5": {"input_price_per_mtok": 1.25, "output_price_per_mtok": 10}}}';
const modelOverridesSchema = z.record(z.string(), z.record(z.string(), z.record(z.string(), z.unknown())), { error: MODEL_OVERRIDES_FORMAT });

const serverSchema = z.object({
  TEAM_TOKENS: json(teamTokensSchema, 'must be JSON mapping SHA-256 hex of a token to a team id, e.g. {"<64 hex>":"team-a"}'),
  ALLOW_UNAUTHENTICATED: flag(),
  DEFAULT_MODEL: text("auto"),
  DEFAULT_THINKING_MODE_THINKDEEP: oneOf(THINKING_MODES, "high"),
  LOCALE: text(),
  DISABLED_TOOLS: list(),
  MAX_MCP_OUTPUT_TOKENS: integer(0, 0, 10_000_000),
  CONVERSATION_TIMEOUT_HOURS: integer(24, 1, 24 * 365),
  MAX_CONVERSATION_TURNS: integer(50, 2, 1_000),
  RATE_LIMIT_PER_MINUTE: optionalInteger(0, 1_000_000),
  RATE_LIMIT_PER_TOKEN_PER_MINUTE: optionalInteger(0, 1_000_000),
  RATE_LIMIT_REQUESTS_PER_MINUTE: optionalInteger(0, 10_000_000),
  RATE_LIMIT_PER_ADDRESS_PER_MINUTE: optionalInteger(0, 1_000_000),
  ALLOWED_HOSTNAMES: list(),
  MAX_REQUEST_BODY_BYTES: integer(4 * 1024 * 1024, 1_024, 100 * 1024 * 1024),
  MAX_BLOB_BYTES: integer(2 * 1024 ** 3, 1_024, 64 * 1024 ** 3),
  TEAM_BLOB_QUOTA_BYTES: integer(50 * 1024 ** 3, 1_024, 1024 ** 5),
  BLOB_PART_MIB: integer(64, R2_MIN_PART_MIB, 95),
  BLOB_TTL_DAYS: integer(30, 1, 3_650),
  BREAKER_FAILURE_THRESHOLD: integer(5, 1, 1_000),
  BREAKER_COOLDOWN_SECONDS: integer(30, 1, 3_600),
  PROVIDER_CALL_DEADLINE_SECONDS: integer(600, 1, 3_600),
  PROVIDER_MAX_ATTEMPTS: integer(4, 1, 10),
  TEAM_BUDGET_USD_PER_DAY: dollars(),
  TEAM_BUDGET_USD_PER_MONTH: dollars(),
  MODEL_CATALOG_URL: url(DEFAULT_MODEL_CATALOG_URL),
  MODEL_OVERRIDES: json(modelOverridesSchema, MODEL_OVERRIDES_FORMAT),
});

/**
 * The rate limits: the defaults for a server others reach (TEAM_TOKENS, or ALLOW_UNAUTHENTICATED),
 * or, in local mode (served only to this machine: one person), none unless a variable sets one.
 */
function rateLimitsOf(v: z.infer<typeof serverSchema>, reachedByOthers: boolean): RateLimits {
  const limit = (value: number | undefined, shared: number) => value ?? (reachedByOthers ? shared : 0);
  return {
    teamPerMinute: limit(v.RATE_LIMIT_PER_MINUTE, 600),
    tokenPerMinute: limit(v.RATE_LIMIT_PER_TOKEN_PER_MINUTE, 300),
    requestsPerMinute: limit(v.RATE_LIMIT_REQUESTS_PER_MINUTE, 6_000),
    addressPerMinute: limit(v.RATE_LIMIT_PER_ADDRESS_PER_MINUTE, 30),
  };
}

/** The original derived the prompt limit from the client's output-token cap when one was given. */
function promptSizeLimit(vars: Vars, outputTokens: number): number {
  const fallback = outputTokens > 0 ? Math.floor(outputTokens * 0.6 * 4) : 60_000;
  return readVariables(z.object({ MCP_PROMPT_SIZE_LIMIT: integer(fallback, 1_000, 10_000_000) }), vars).MCP_PROMPT_SIZE_LIMIT;
}

/** Parses the environment into the server's settings; throws ConfigError naming a bad variable. */
export function parseConfig(vars: Vars): Config {
  const v = readVariables(serverSchema, vars);
  if (v.ALLOW_UNAUTHENTICATED && v.TEAM_TOKENS) {
    throw new ConfigError("ALLOW_UNAUTHENTICATED=true contradicts TEAM_TOKENS: unset one of them (with TEAM_TOKENS every request needs a token).");
  }
  return {
    defaultModel: v.DEFAULT_MODEL,
    defaultThinkingModeThinkdeep: v.DEFAULT_THINKING_MODE_THINKDEEP,
    locale: v.LOCALE,
    disabledTools: new Set(v.DISABLED_TOOLS),
    promptSizeLimit: promptSizeLimit(vars, v.MAX_MCP_OUTPUT_TOKENS),
    conversationTimeoutHours: v.CONVERSATION_TIMEOUT_HOURS,
    maxConversationTurns: v.MAX_CONVERSATION_TURNS,
    teamTokens: v.TEAM_TOKENS ? new Map(Object.entries(v.TEAM_TOKENS)) : null,
    allowUnauthenticated: v.ALLOW_UNAUTHENTICATED,
    rateLimits: rateLimitsOf(v, v.TEAM_TOKENS !== undefined || v.ALLOW_UNAUTHENTICATED),
    allowedHostnames: v.ALLOWED_HOSTNAMES,
    maxRequestBodyBytes: v.MAX_REQUEST_BODY_BYTES,
    blobs: { maxBytes: v.MAX_BLOB_BYTES, teamQuotaBytes: v.TEAM_BLOB_QUOTA_BYTES, partMib: v.BLOB_PART_MIB, ttlDays: v.BLOB_TTL_DAYS },
    breaker: { failureThreshold: v.BREAKER_FAILURE_THRESHOLD, cooldownMs: v.BREAKER_COOLDOWN_SECONDS * 1_000 },
    providerCall: { deadlineMs: v.PROVIDER_CALL_DEADLINE_SECONDS * 1_000, maxAttempts: v.PROVIDER_MAX_ATTEMPTS },
    budgets: { usdPerDay: v.TEAM_BUDGET_USD_PER_DAY, usdPerMonth: v.TEAM_BUDGET_USD_PER_MONTH },
    modelCatalogUrl: v.MODEL_CATALOG_URL,
    modelOverrides: v.MODEL_OVERRIDES ?? null,
  };
}

const parsedConfigs = new WeakMap<Env, Config>();

/** The configuration of a request's env, parsed once per env object. */
export function configOf(env: Env): Config {
  let config = parsedConfigs.get(env);
  if (!config) {
    config = parseConfig(env);
    parsedConfigs.set(env, config);
  }
  return config;
}
