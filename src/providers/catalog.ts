import { z } from "zod";
import { ConfigError, list, readVariables, type ModelOverrides } from "../core/config";
import { anthropic } from "./anthropic";
import { azure } from "./azure";
import { parseModelEntry, type ModelCapabilities } from "./capabilities";
import { custom } from "./custom";
import type { ProviderConfig, ProviderDescriptor } from "./descriptor";
import { dial } from "./dial";
import { gemini } from "./gemini";
import type { CatalogEntry, ModelCatalog } from "./model-catalog";
import { openai } from "./openai";
import { openrouter } from "./openrouter";
import type { ProviderId } from "./types";
import { workersAi } from "./workers-ai";
import { xai } from "./xai";

/**
 * Every provider this server can call, in the order a model name is resolved against them (and
 * auto mode tries them): the keyed providers first, so a key the operator set wins over Workers
 * AI, which needs no key.
 */
const CATALOG = {
  google: gemini,
  openai,
  azure,
  xai,
  anthropic,
  dial,
  custom,
  openrouter,
  "workers-ai": workersAi,
} as const satisfies Record<ProviderId, ProviderDescriptor>;

export const PROVIDERS: readonly ProviderDescriptor[] = Object.values(CATALOG);

export function descriptorOf(id: ProviderId): ProviderDescriptor {
  return CATALOG[id];
}

const shippedModels = new Map<ProviderId, ModelCapabilities[]>();

/** The models shipped for a provider, parsed once per isolate. */
export function shippedModelsOf(id: ProviderId): ModelCapabilities[] {
  let models = shippedModels.get(id);
  if (!models) {
    models = CATALOG[id].models.models.map((entry) => parseModelEntry(id, entry, `models/${id}.json`));
    shippedModels.set(id, models);
  }
  return models;
}

/** The date the shipped registries' facts were last checked (their latest `as_of`); null when none records one. */
export function shippedAsOf(): string | null {
  const dates = PROVIDERS.flatMap((descriptor) => (descriptor.models.as_of ? [descriptor.models.as_of] : []));
  return dates.length > 0 ? dates.sort().at(-1)! : null;
}

/** What is laid over the shipped registries: the refreshed public catalog, then the deploy's overrides. */
export interface ModelLayers {
  catalog: ModelCatalog | null;
  overrides: ModelOverrides | null;
}

const NO_LAYERS: ModelLayers = { catalog: null, overrides: null };

/**
 * The providers the env configures, in resolution order: each descriptor reads its own
 * variables (and Workers AI the `AI` binding's presence), then its allow-lists are read, and its
 * models are its shipped registry under the layers. Throws ConfigError naming a bad variable.
 */
export function parseProviders(vars: Record<string, unknown>, layers: ModelLayers = NO_LAYERS): ProviderConfig[] {
  checkOverrides(layers.overrides);
  return PROVIDERS.flatMap((descriptor) => {
    const settings = readVariables(descriptor.settings, vars);
    if (!settings) return [];
    const { id, label, keyVariable } = descriptor;
    return [{ ...settings, id, label, keyVariable, allowedModels: allowListOf(descriptor, vars), models: settings.models ?? layeredModelsOf(descriptor, layers) }];
  });
}

/** The facts the catalog decides for every model it lists, ours included: limits, images and prices. */
function catalogFacts(entry: CatalogEntry): Record<string, unknown> {
  return {
    context_window: entry.contextWindow,
    ...(entry.maxOutputTokens ? { max_output_tokens: entry.maxOutputTokens } : {}),
    supports_images: entry.images,
    ...(entry.inputPerMtok !== undefined ? { input_price_per_mtok: entry.inputPerMtok, output_price_per_mtok: entry.outputPerMtok } : {}),
  };
}

/** Output cap of a catalog model whose list gives none, and of a model passed through by name. */
export const GENERIC_LIMITS = { contextWindow: 32_768, maxOutputTokens: 32_768 } as const;

/** A model only the catalog knows: its facts and what its parameters say; no aliases, the default score. */
function catalogOnlyEntry(name: string, entry: CatalogEntry): Record<string, unknown> {
  return {
    model_name: name,
    friendly_name: entry.id,
    description: `From the model catalog (${entry.id})`,
    max_output_tokens: Math.min(entry.contextWindow, GENERIC_LIMITS.maxOutputTokens),
    supports_extended_thinking: entry.reasoning,
    supports_temperature: entry.temperature,
    ...catalogFacts(entry),
  };
}

/** A direct provider's catalog entries by its own (lower-case) model name: `openai/gpt-5` is OpenAI's `gpt-5`. */
function catalogEntriesOf(descriptor: ProviderDescriptor, catalog: ModelCatalog): Map<string, { name: string; entry: CatalogEntry }> {
  const byName = new Map<string, { name: string; entry: CatalogEntry }>();
  const names = descriptor.catalogNames;
  if (!names) return byName;
  for (const entry of catalog.entries) {
    // Variants such as `:free` or `:extended` are OpenRouter's own offers, not the provider's models.
    if (!entry.id.startsWith(names.prefix) || entry.id.includes(":")) continue;
    const bare = entry.id.slice(names.prefix.length);
    const name = names.ownName ? names.ownName(bare) : bare;
    if (name !== "" && !byName.has(name.toLowerCase())) byName.set(name.toLowerCase(), { name, entry });
  }
  return byName;
}

/**
 * A provider's models in layers: its shipped registry, under the catalog (its limits, images and
 * prices win, and its other models join with their facts), under the deploy's MODEL_OVERRIDES
 * (partial entries laid over by model name, or whole new entries). Curated facts (aliases,
 * scores, thinking budgets, temperature rules, the API used) stay ours.
 */
function layeredModelsOf(descriptor: ProviderDescriptor, layers: ModelLayers): ModelCapabilities[] {
  const overrides = layers.overrides?.[descriptor.id];
  const fromCatalog = layers.catalog ? catalogEntriesOf(descriptor, layers.catalog) : new Map<string, { name: string; entry: CatalogEntry }>();
  if (fromCatalog.size === 0 && !overrides) return shippedModelsOf(descriptor.id);
  const entries = new Map<string, { entry: Record<string, unknown>; catalogOnly: boolean }>();
  for (const shipped of descriptor.models.models as Array<Record<string, unknown>>) {
    const name = String(shipped["model_name"]).toLowerCase();
    const listed = fromCatalog.get(name);
    entries.set(name, { entry: listed ? { ...shipped, ...catalogFacts(listed.entry) } : shipped, catalogOnly: false });
  }
  for (const [key, { name, entry }] of fromCatalog) {
    if (!entries.has(key)) entries.set(key, { entry: catalogOnlyEntry(name, entry), catalogOnly: true });
  }
  for (const [name, override] of Object.entries(overrides ?? {})) {
    const base = entries.get(name.toLowerCase())?.entry;
    entries.set(name.toLowerCase(), { entry: { ...base, ...override, model_name: base?.["model_name"] ?? name }, catalogOnly: false });
  }
  return [...entries.values()].flatMap(({ entry, catalogOnly }) => {
    let model: ModelCapabilities;
    try {
      model = parseModelEntry(descriptor.id, entry, catalogOnly ? "the model catalog" : `MODEL_OVERRIDES (${descriptor.id})`);
    } catch (error) {
      // A catalog entry that our schema refuses is left out; a deploy's own override is the deployer's to fix.
      if (catalogOnly) return [];
      throw new ConfigError(error instanceof Error ? error.message : String(error));
    }
    return [catalogOnly ? { ...model, catalogOnly: true as const } : model];
  });
}

/** MODEL_OVERRIDES names providers by id; Azure's models are the deploy's own already (AZURE_MODELS). */
function checkOverrides(overrides: ModelOverrides | null): void {
  for (const id of Object.keys(overrides ?? {})) {
    const known = PROVIDERS.filter((p) => p.id !== "azure").map((p) => p.id);
    if (!known.includes(id as ProviderId)) {
      throw new ConfigError(`MODEL_OVERRIDES names '${id}', which is not a provider here: use one of ${known.join(", ")} (Azure's models are set in AZURE_MODELS).`);
    }
  }
}

/** The names and aliases of a provider's allow-list variables; null (every model) when all are empty. */
function allowListOf(descriptor: ProviderDescriptor, vars: Record<string, unknown>): ReadonlySet<string> | null {
  const lists = readVariables(z.object(Object.fromEntries(descriptor.allowListVariables.map((name) => [name, list()]))), vars);
  const entries = Object.values(lists).flat();
  return entries.length > 0 ? new Set(entries) : null;
}
