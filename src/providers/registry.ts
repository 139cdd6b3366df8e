import { configOf, type Config } from "../core/config";
import type { Env } from "../core/env";
import { UserFacingError } from "../core/errors";
import { capabilityRank, parseModelEntry, type ModelCapabilities } from "./capabilities";
import { descriptorOf, GENERIC_LIMITS, parseProviders, PROVIDERS } from "./catalog";
import type { ProviderConfig, ResolvedModel, ToolCategory } from "./descriptor";
import { currentCatalogState, type CatalogEntry, type ModelCatalog } from "./model-catalog";
import type { ProviderId } from "./types";

/** A model name that cannot be used: the message lists what can. */
export class ModelResolutionError extends UserFacingError {
  override name = "ModelResolutionError";
}

/** Generic capabilities for names a provider serves without a registry entry. */
function genericModel(provider: ProviderId, modelName: string): ModelCapabilities {
  const { contextWindow, maxOutputTokens } = GENERIC_LIMITS;
  return parseModelEntry(
    provider,
    { model_name: modelName, description: "Not in the registry: generic capabilities", context_window: contextWindow, max_output_tokens: maxOutputTokens },
    "generic",
  );
}

/** An OpenRouter model the catalog lists, with its facts: OpenRouter's catalog is its own list of models. */
function openRouterModel(entry: CatalogEntry): ModelCapabilities {
  return {
    ...parseModelEntry(
      "openrouter",
      {
        model_name: entry.id,
        description: "From the model catalog",
        context_window: entry.contextWindow,
        max_output_tokens: entry.maxOutputTokens ?? Math.min(entry.contextWindow, GENERIC_LIMITS.maxOutputTokens),
        supports_images: entry.images,
        supports_extended_thinking: entry.reasoning,
        supports_temperature: entry.temperature,
        ...(entry.inputPerMtok !== undefined ? { input_price_per_mtok: entry.inputPerMtok, output_price_per_mtok: entry.outputPerMtok } : {}),
      },
      "the model catalog",
    ),
    catalogOnly: true,
  };
}

/** What the result's metadata says of a name sent on with generic limits. */
function passThroughNote(provider: ProviderConfig, name: string): string {
  const { contextWindow, maxOutputTokens } = GENERIC_LIMITS;
  return (
    `'${name}' is in no model catalog here: it was sent to ${provider.label} as named, with generic limits ` +
    `(${contextWindow} tokens of context, ${maxOutputTokens} of output). If the call fails, check the name with listmodels.`
  );
}

/** How many names a refusal lists: the best first. */
const NAMES_IN_MESSAGES = 30;

/**
 * The models this deployment can use: the registries of the configured providers, filtered by
 * `*_ALLOWED_MODELS`, with resolution of names and aliases by provider priority.
 */
export class ModelRegistry {
  private readonly modelsByProvider = new Map<ProviderId, ModelCapabilities[]>();
  /** Every usable name and alias (lower-case), to its model of the first provider in resolution order. */
  private readonly byName = new Map<string, { model: ModelCapabilities; provider: ProviderConfig }>();
  /** The catalog's entries by id, for OpenRouter's `vendor/model` names. */
  private readonly catalogById: ReadonlyMap<string, CatalogEntry>;
  private ranked: ModelCapabilities[] | undefined;

  /** `providers` are the configured ones, in resolution order (parseProviders), their models laid over `catalog`. */
  constructor(
    private readonly config: Config,
    readonly providers: readonly ProviderConfig[],
    readonly catalog: ModelCatalog | null = null,
  ) {
    for (const provider of providers) {
      const models = provider.models.filter((model) => isAllowed(provider, model));
      this.modelsByProvider.set(provider.id, models);
      for (const model of models) {
        for (const name of new Set([model.modelName.toLowerCase(), ...model.aliases])) {
          if (!this.byName.has(name)) this.byName.set(name, { model, provider });
        }
      }
    }
    this.catalogById = new Map((catalog?.entries ?? []).map((entry) => [entry.id.toLowerCase(), entry]));
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
    const names = this.available().map((m) => m.modelName);
    const more = names.length > NAMES_IN_MESSAGES ? ` and ${names.length - NAMES_IN_MESSAGES} more` : "";
    const available = names.slice(0, NAMES_IN_MESSAGES).join(", ") + more;
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
      const listed = this.catalogById.get(lower);
      if (listed) return { capabilities: openRouterModel(listed), provider: openrouter, requestedName: name };
      return { capabilities: genericModel("openrouter", name), provider: openrouter, requestedName: name, note: passThroughNote(openrouter, name) };
    }
    return this.passedThrough(name);
  }

  /**
   * A name in no catalog, sent to the direct provider it clearly belongs to, with generic limits
   * and a note: the one whose catalog prefix it carries (`openai/gpt-9`: then by its bare name,
   * registered or not), else the one whose naming family it is in (`gpt-`, `gemini-`, `grok-`,
   * `claude-`) when it is configured, else, for a plain name, the only provider configured when it
   * is a direct one. Allow-lists still apply.
   */
  private passedThrough(name: string): ResolvedModel | undefined {
    const direct = this.providers.filter((p) => descriptorOf(p.id).catalogNames);
    const prefixed = direct.find((p) => name.toLowerCase().startsWith(descriptorOf(p.id).catalogNames!.prefix));
    if (prefixed) {
      const names = descriptorOf(prefixed.id).catalogNames!;
      const bare = name.slice(names.prefix.length);
      const own = names.ownName ? names.ownName(bare) : bare;
      const registered = this.byName.get(own.toLowerCase());
      if (registered?.provider.id === prefixed.id) return { capabilities: registered.model, provider: prefixed, requestedName: name };
      return this.generic(prefixed, own);
    }
    // A name of a provider's family (or another vendor's `vendor/model`) goes to that provider or nowhere.
    const family = PROVIDERS.find((d) => d.catalogNames?.family.test(name));
    if (family) {
      const provider = direct.find((p) => p.id === family.id);
      return provider ? this.generic(provider, name) : undefined;
    }
    if (name.includes("/")) return undefined;
    // Workers AI serves its own list only, so it does not make another provider less alone.
    const [only, ...others] = this.providers.filter((p) => p.id !== "workers-ai");
    return only && others.length === 0 && direct.includes(only) ? this.generic(only, name) : undefined;
  }

  private generic(provider: ProviderConfig, name: string): ResolvedModel | undefined {
    if (!isAllowedName(provider, name.toLowerCase())) return undefined;
    return { capabilities: genericModel(provider.id, name), provider, requestedName: name, note: passThroughNote(provider, name) };
  }

  /** A model of the registries by name or alias, in provider priority order. */
  private registered(name: string, option?: string): ResolvedModel | undefined {
    const found = this.byName.get(name.toLowerCase());
    return found ? { capabilities: found.model, provider: found.provider, requestedName: name, ...(option ? { option } : {}) } : undefined;
  }

  /**
   * Auto mode's candidates for a category: each provider's preferred model, in provider priority
   * order. Auto mode takes the first one it can use (its breaker may be open).
   */
  candidatesFor(category: ToolCategory): ResolvedModel[] {
    return this.providers.flatMap((provider) => {
      // Auto mode keeps to curated models: the catalog's others come without scores or thinking facts.
      const curated = this.modelsOf(provider.id).filter((m) => !m.catalogOnly);
      const model = preferredModel(provider.id, category, curated);
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
 * The registry of a request's env, built once per env object and model catalog (the isolate's
 * copy, which the request loaded first: loadCatalog) from its configuration and its providers'
 * settings. Throws ConfigError naming a variable that cannot be used.
 */
export function registryFor(env: Env, catalog: ModelCatalog | null = currentCatalogState().catalog): ModelRegistry {
  let registry = registries.get(env);
  if (!registry || registry.catalog !== catalog) {
    const config = configOf(env);
    registry = new ModelRegistry(config, parseProviders(env, { catalog, overrides: config.modelOverrides }), catalog);
    registries.set(env, registry);
  }
  return registry;
}
