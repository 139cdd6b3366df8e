import { configOf, type Config } from "../core/config";
import type { Env } from "../core/env";
import { UserFacingError } from "../core/errors";
import { capabilityRank, parseModelEntry, type ModelCapabilities } from "./capabilities";
import { descriptorOf, parseProviders, PROVIDERS } from "./catalog";
import type { ProviderConfig, ResolvedModel, ToolCategory } from "./descriptor";
import type { ProviderId } from "./types";

/** A model name that cannot be used: the message lists what can. */
export class ModelResolutionError extends UserFacingError {
  override name = "ModelResolutionError";
}

/** Generic capabilities for names a catch-all provider serves without a registry entry. */
function genericModel(provider: ProviderId, modelName: string): ModelCapabilities {
  return parseModelEntry(
    provider,
    { model_name: modelName, description: "Not in the registry: generic capabilities", context_window: 32_768, max_output_tokens: 32_768 },
    "generic",
  );
}

/**
 * The models this deployment can use: the registries of the configured providers, filtered by
 * `*_ALLOWED_MODELS`, with resolution of names and aliases by provider priority.
 */
export class ModelRegistry {
  private readonly modelsByProvider = new Map<ProviderId, ModelCapabilities[]>();
  private ranked: ModelCapabilities[] | undefined;

  /** `providers` are the configured ones, in resolution order (parseProviders). */
  constructor(
    private readonly config: Config,
    readonly providers: readonly ProviderConfig[],
  ) {
    for (const provider of providers) this.modelsByProvider.set(provider.id, provider.models.filter((model) => isAllowed(provider, model)));
  }

  /** True when the server picks the model: DEFAULT_MODEL=auto, or a default no provider serves. */
  get autoMode(): boolean {
    if (this.config.defaultModel.toLowerCase() === "auto") return true;
    return this.tryResolve(this.config.defaultModel) === undefined;
  }

  /** Every usable model, best first. */
  available(): ModelCapabilities[] {
    this.ranked ??= [...this.modelsByProvider.values()].flat().sort((a, b) => capabilityRank(b) - capabilityRank(a));
    return this.ranked;
  }

  modelsOf(provider: ProviderId): ModelCapabilities[] {
    return this.modelsByProvider.get(provider) ?? [];
  }

  /** Resolves a name, alias or `name:option`; throws ModelResolutionError with the alternatives. */
  resolve(requested: string): ResolvedModel {
    const resolved = this.tryResolve(requested);
    if (resolved) return resolved;
    if (this.providers.length === 0) throw new ModelResolutionError(NO_PROVIDER_MESSAGE);
    const { name } = splitOption(requested);
    const restricted = this.restrictedMatch(name);
    const available = this.available().map((m) => m.modelName).join(", ");
    if (restricted) {
      throw new ModelResolutionError(
        `Model '${name}' is not allowed by restriction policy (${restricted.id.toUpperCase()} allow-list). Allowed models: ${available}.`,
      );
    }
    throw new ModelResolutionError(
      `Model '${name}' is not available with current API keys. Available models: ${available}. Use the listmodels tool to see them with their aliases.`,
    );
  }

  tryResolve(requested: string): ResolvedModel | undefined {
    // A registered name may hold a colon itself (DIAL's `…-v1:0`): the whole name comes first.
    const whole = this.registered(requested.trim());
    if (whole) return whole;
    const { name, option } = splitOption(requested.trim());
    const lower = name.toLowerCase();
    const registered = this.registered(name, option);
    if (registered) return registered;
    // Catch-alls: the custom endpoint serves its configured model name, OpenRouter any vendor/model.
    const custom = this.providers.find((p) => p.id === "custom");
    if (custom && custom.modelName?.toLowerCase() === lower && isAllowedName(custom, lower)) {
      return { capabilities: genericModel("custom", name), provider: custom, requestedName: name, ...(option ? { option } : {}) };
    }
    const openrouter = this.providers.find((p) => p.id === "openrouter");
    if (openrouter && name.includes("/") && isAllowedName(openrouter, lower)) {
      return { capabilities: genericModel("openrouter", name), provider: openrouter, requestedName: name };
    }
    return undefined;
  }

  /** A model of the registries by name or alias, in provider priority order. */
  private registered(name: string, option?: string): ResolvedModel | undefined {
    const lower = name.toLowerCase();
    for (const provider of this.providers) {
      const model = this.modelsOf(provider.id).find((m) => m.modelName.toLowerCase() === lower || m.aliases.includes(lower));
      if (model) return { capabilities: model, provider, requestedName: name, ...(option ? { option } : {}) };
    }
    return undefined;
  }

  /**
   * Auto mode's candidates for a category: each provider's preferred model, in provider priority
   * order. Auto mode takes the first one it can use (its breaker may be open).
   */
  candidatesFor(category: ToolCategory): ResolvedModel[] {
    return this.providers.flatMap((provider) => {
      const model = preferredModel(provider.id, category, this.modelsOf(provider.id));
      return model ? [{ capabilities: model, provider, requestedName: model.modelName }] : [];
    });
  }

  private restrictedMatch(name: string): ProviderConfig | undefined {
    const lower = name.toLowerCase();
    return this.providers.find((provider) =>
      provider.models.some((m) => m.modelName.toLowerCase() === lower || m.aliases.includes(lower)),
    );
  }
}

/** What configures each keyed provider: its required variables, in resolution order. */
const [firstKeyed, ...otherKeyed] = PROVIDERS.filter((p) => p.requiredVariables.length > 0).map((p) => p.requiredVariables.join(" with "));

export const NO_PROVIDER_MESSAGE =
  "No model provider is configured, so no model can be called. Add an API key: locally put a line such as " +
  `${firstKeyed}=... (or ${otherKeyed.join(", ")}) in .dev.vars ` +
  `and restart \`npm run dev\`; on a deploy run \`npx wrangler secret put ${firstKeyed}\`, or bind Workers AI ` +
  '(`[env.<team>.ai]` with binding = "AI" in wrangler.toml), which needs no key.';

/** `name:option` splits on the first colon; OpenRouter's `vendor/model:free` stays whole. */
export function splitOption(requested: string): { name: string; option?: string } {
  const colon = requested.indexOf(":");
  if (colon <= 0 || requested.includes("/")) return { name: requested };
  return { name: requested.slice(0, colon), option: requested.slice(colon + 1) };
}

function isAllowedName(provider: ProviderConfig, lowerName: string): boolean {
  return provider.allowedModels === null || provider.allowedModels.has(lowerName);
}

function isAllowed(provider: ProviderConfig, model: ModelCapabilities): boolean {
  const allowed = provider.allowedModels;
  if (allowed === null) return true;
  return allowed.has(model.modelName.toLowerCase()) || model.aliases.some((alias) => allowed.has(alias));
}

function preferredModel(provider: ProviderId, category: ToolCategory, models: ModelCapabilities[]): ModelCapabilities | undefined {
  if (models.length === 0) return undefined;
  const byName = (names: readonly string[]) => names.map((n) => models.find((m) => m.modelName === n)).find((m) => m !== undefined);
  const preferred = descriptorOf(provider).preferredModels?.[category];
  if (preferred) return byName(preferred) ?? models[0];
  const ranked = [...models].sort((a, b) => capabilityRank(b) - capabilityRank(a));
  if (category === "extended_reasoning") return ranked.find((m) => m.supportsExtendedThinking) ?? ranked[0];
  return ranked[0];
}

const registries = new WeakMap<Env, ModelRegistry>();

/**
 * The registry of a request's env, built once per env object from its configuration and its
 * providers' settings. Throws ConfigError naming a variable that cannot be used.
 */
export function registryFor(env: Env): ModelRegistry {
  let registry = registries.get(env);
  if (!registry) {
    registry = new ModelRegistry(configOf(env), parseProviders(env));
    registries.set(env, registry);
  }
  return registry;
}
