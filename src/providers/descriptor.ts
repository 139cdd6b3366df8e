import { z } from "zod";
import { key, text, url } from "../core/config";
import type { WorkersAiBinding } from "../core/env";
import type { ModelCapabilities } from "./capabilities";
import type { GenerationProgress, ModelResponse, ProviderId, ProviderRequest } from "./types";

/** What a tool needs from a model, for auto mode: the original's three categories. */
export type ToolCategory = "fast_response" | "balanced" | "extended_reasoning";

/** A configured provider: its descriptor's facts and what its variables set. */
export interface ProviderConfig extends Omit<ProviderSettings, "models"> {
  id: ProviderId;
  label: string;
  keyVariable: string;
  /** Lower-cased names and aliases from its allow-list variables; null means every model is allowed. */
  allowedModels: ReadonlySet<string> | null;
  /** Every model it serves before the allow-list: its shipped registry, or the models its settings list. */
  models: readonly ModelCapabilities[];
}

/** What a provider's variables say, read by its descriptor's schema. */
export interface ProviderSettings {
  apiKey: string;
  baseUrl: string;
  /** Azure and DIAL put an api-version on every URL. */
  apiVersion?: string;
  /** OpenRouter's attribution headers. */
  referer?: string;
  title?: string;
  /** The custom endpoint's default model. */
  modelName?: string;
  /** The models, for a provider whose settings list them (its shipped registry is empty). */
  models?: ModelCapabilities[];
}

export interface ResolvedModel {
  capabilities: ModelCapabilities;
  provider: ProviderConfig;
  /** The name as the caller gave it (an alias stays an alias), echoed in responses. */
  requestedName: string;
  /** The part after `model:`, e.g. an Ollama tag; undefined when none was given. */
  option?: string;
  /** Said in the tool result's metadata: e.g. a name in no catalog, passed through with generic limits. */
  note?: string;
}

/** How long one model call may take and how often it is attempted. */
export interface CallPolicy {
  /** Budget for the whole call: every attempt and every backoff sleep. */
  deadlineMs: number;
  maxAttempts: number;
  /** First backoff before jitter, doubling per attempt up to maxBackoffMs (defaults 1 s and 8 s). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface GenerateOptions {
  signal?: AbortSignal;
  /** Given when the caller shows progress; streaming is used only then (and only if the model streams). */
  onProgress?: (progress: GenerationProgress) => void;
  policy: CallPolicy;
  /** The deploy's Workers AI binding, when it has one; only the workers-ai provider uses it. */
  ai?: WorkersAiBinding;
}

/** One model call in the provider-neutral shape, mapped to the provider's wire format. */
export type Generate = (provider: ProviderConfig, model: ResolvedModel, request: ProviderRequest, options: GenerateOptions) => Promise<ModelResponse>;

/** Everything about one provider; the catalog (catalog.ts) gathers them in resolution order. */
export interface ProviderDescriptor {
  id: ProviderId;
  /** The name users know it by, in messages. */
  label: string;
  /** The heading of its section in `listmodels`. */
  title: string;
  /** What to check when it refuses the credentials. */
  keyVariable: string;
  /** The variables that must all be set for it to be configured (what `deploy:check` asks for). */
  requiredVariables: readonly string[];
  /** Its base URL's variable and default ("" when the variable is required). */
  baseUrl: { variable: string; default: string } | null;
  /** The variables whose names and aliases restrict its models (read by the catalog). */
  allowListVariables: readonly string[];
  /** Reads its other variables from the env: its settings, or null when it is not configured. */
  settings: z.ZodType<ProviderSettings | null>;
  /** Its shipped model registry (src/providers/models/*.json), with the date its facts were checked when recorded. */
  models: { models: unknown[]; as_of?: string };
  /**
   * A direct provider's names in the public model catalog (`openai/gpt-5` is OpenAI's `gpt-5`):
   * its prefix there, how a bare catalog name maps to its own API's name when they differ, and
   * the family its own names belong to (what an unknown name is passed through to it by).
   */
  catalogNames?: { prefix: string; family: RegExp; ownName?: (catalogName: string) => string };
  /** Names auto mode tries first, per tool category (the original's preferences). */
  preferredModels?: Record<ToolCategory, readonly string[]>;
  generate: Generate;
}

/**
 * A provider's settings schema. It is configured when every `required` variable is set (a key,
 * a URL, a binding); only then are its `optional` ones read, so a stray variable of a provider
 * that is not configured is ignored.
 */
export function settingsFrom<Required extends z.ZodRawShape, Optional extends z.ZodRawShape>(
  required: Required,
  optional: Optional,
  configure: (vars: z.output<z.ZodObject<Required>> & z.output<z.ZodObject<Optional>>) => ProviderSettings,
): z.ZodType<ProviderSettings | null> {
  const optionalSchema = z.object(optional);
  return z.looseObject(required).transform((vars, context) => {
    if (!Object.keys(required).every((name) => vars[name])) return null;
    const parsed = optionalSchema.safeParse(vars);
    if (!parsed.success) {
      for (const { message, path } of parsed.error.issues) context.addIssue({ code: "custom", message, path });
      return z.NEVER;
    }
    return configure({ ...vars, ...parsed.data });
  });
}

/** A provider that speaks HTTP with one key, at a base URL with a default. */
interface KeyedProvider extends Pick<ProviderDescriptor, "id" | "label" | "title" | "keyVariable" | "allowListVariables" | "models" | "preferredModels" | "catalogNames" | "generate"> {
  baseUrl: { variable: string; default: string };
  /** Text settings besides the key and the base URL: the variable, its default, the setting it fills. */
  textSettings?: ReadonlyArray<{ variable: string; default: string; setting: "apiVersion" | "referer" | "title" }>;
}

/** The descriptor of a keyed provider: configured by its key alone. */
export function keyedProvider({ baseUrl, textSettings = [], ...provider }: KeyedProvider): ProviderDescriptor {
  const texts = Object.fromEntries(textSettings.map(({ variable, default: fallback }) => [variable, text(fallback)]));
  return {
    ...provider,
    requiredVariables: [provider.keyVariable],
    baseUrl,
    settings: settingsFrom({ [provider.keyVariable]: key() }, { [baseUrl.variable]: url(baseUrl.default), ...texts }, (vars) => ({
      apiKey: vars[provider.keyVariable] ?? "",
      baseUrl: vars[baseUrl.variable] ?? "",
      ...Object.fromEntries(textSettings.map(({ variable, setting }) => [setting, vars[variable]])),
    })),
  };
}
