import { z } from "zod";
import type { ProviderId } from "./types";

/**
 * One entry of a model registry file, in the original's field names (unknown keys are rejected).
 * Prices are this port's addition, only where the provider publishes one flat list price.
 */
const modelEntrySchema = z
  .object({
    model_name: z.string().min(1),
    friendly_name: z.string().optional(),
    aliases: z.array(z.string()).default([]),
    intelligence_score: z.number().int().min(1).max(20).default(10),
    description: z.string().default(""),
    context_window: z.number().int().positive(),
    max_output_tokens: z.number().int().positive(),
    max_thinking_tokens: z.number().int().nonnegative().default(0),
    supports_extended_thinking: z.boolean().default(false),
    supports_system_prompts: z.boolean().default(true),
    supports_streaming: z.boolean().default(true),
    supports_function_calling: z.boolean().default(false),
    supports_images: z.boolean().default(false),
    max_image_size_mb: z.number().nonnegative().default(0),
    supports_json_mode: z.boolean().default(false),
    supports_temperature: z.boolean().default(true),
    temperature_constraint: z.enum(["fixed", "range", "discrete"]).default("range"),
    use_openai_response_api: z.boolean().default(false),
    default_reasoning_effort: z.enum(["minimal", "low", "medium", "high"]).optional(),
    allow_code_generation: z.boolean().default(false),
    deployment: z.string().optional(),
    /** USD per million tokens, the provider's list price (standard tier, uncached). */
    input_price_per_mtok: z.number().nonnegative().optional(),
    output_price_per_mtok: z.number().nonnegative().optional(),
    /** The public page the entry's facts (limits, prices) were taken from; provenance only, not read. */
    source: z.url().optional(),
  })
  .strict()
  .refine((m) => (m.input_price_per_mtok === undefined) === (m.output_price_per_mtok === undefined), {
    message: "input_price_per_mtok and output_price_per_mtok go together: set both or neither",
  });

export type TemperatureConstraint = "fixed" | "range" | "discrete";

export interface ModelCapabilities {
  provider: ProviderId;
  modelName: string;
  friendlyName: string;
  aliases: string[];
  intelligenceScore: number;
  description: string;
  contextWindow: number;
  maxOutputTokens: number;
  maxThinkingTokens: number;
  supportsExtendedThinking: boolean;
  supportsSystemPrompts: boolean;
  supportsStreaming: boolean;
  supportsFunctionCalling: boolean;
  supportsImages: boolean;
  maxImageSizeMb: number;
  supportsJsonMode: boolean;
  supportsTemperature: boolean;
  temperatureConstraint: TemperatureConstraint;
  useResponsesApi: boolean;
  defaultReasoningEffort?: "minimal" | "low" | "medium" | "high";
  allowCodeGeneration: boolean;
  /** Azure: the deployment name sent in the URL. */
  deployment?: string;
  /** List prices in USD per million tokens; absent when the registry has none. */
  prices?: { inputPerMtok: number; outputPerMtok: number };
  /** Known only from the public model catalog: no curated facts (aliases, score, thinking), not picked by auto mode. */
  catalogOnly?: true;
}

export function parseModelEntry(provider: ProviderId, entry: unknown, source: string): ModelCapabilities {
  const parsed = modelEntrySchema.safeParse(entry);
  if (!parsed.success) {
    const where = (entry as { model_name?: string })?.model_name ?? "an entry";
    throw new Error(`${source}: ${where} is not a valid model entry: ${z.prettifyError(parsed.error)}`);
  }
  const m = parsed.data;
  return {
    provider,
    modelName: m.model_name,
    friendlyName: m.friendly_name ?? m.model_name,
    aliases: m.aliases.map((alias) => alias.toLowerCase()),
    intelligenceScore: m.intelligence_score,
    description: m.description,
    contextWindow: m.context_window,
    maxOutputTokens: m.max_output_tokens,
    maxThinkingTokens: m.max_thinking_tokens,
    supportsExtendedThinking: m.supports_extended_thinking,
    supportsSystemPrompts: m.supports_system_prompts,
    supportsStreaming: m.supports_streaming,
    supportsFunctionCalling: m.supports_function_calling,
    supportsImages: m.supports_images,
    maxImageSizeMb: m.max_image_size_mb,
    supportsJsonMode: m.supports_json_mode,
    supportsTemperature: m.supports_temperature,
    temperatureConstraint: m.temperature_constraint,
    useResponsesApi: m.use_openai_response_api,
    ...(m.default_reasoning_effort ? { defaultReasoningEffort: m.default_reasoning_effort } : {}),
    allowCodeGeneration: m.allow_code_generation,
    ...(m.deployment ? { deployment: m.deployment } : {}),
    ...(m.input_price_per_mtok !== undefined && m.output_price_per_mtok !== undefined
      ? { prices: { inputPerMtok: m.input_price_per_mtok, outputPerMtok: m.output_price_per_mtok } }
      : {}),
  };
}

/**
 * Capability rank used for listings, schema hints and auto mode (the original's formula):
 * intelligence x5, plus context, output, thinking and feature bonuses, clamped to 0-100.
 */
export function capabilityRank(model: ModelCapabilities): number {
  const context = Math.min(5, Math.max(0, Math.log10(model.contextWindow) - 3));
  const output = model.maxOutputTokens >= 65_000 ? 2 : model.maxOutputTokens >= 32_000 ? 1 : 0;
  const score =
    model.intelligenceScore * 5 +
    context +
    output +
    (model.supportsExtendedThinking ? 3 : 0) +
    (model.supportsFunctionCalling ? 1 : 0) +
    (model.supportsJsonMode ? 1 : 0) +
    (model.supportsImages ? 1 : 0);
  return Math.round(Math.min(100, Math.max(0, score)));
}
