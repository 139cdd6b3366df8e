import { z } from "zod";
import { list, readVariables } from "../core/config";
import { anthropic } from "./anthropic";
import { azure } from "./azure";
import { parseModelEntry, type ModelCapabilities } from "./capabilities";
import { custom } from "./custom";
import type { ProviderConfig, ProviderDescriptor } from "./descriptor";
import { dial } from "./dial";
import { gemini } from "./gemini";
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

/**
 * The providers the env configures, in resolution order: each descriptor reads its own
 * variables (and Workers AI the `AI` binding's presence), then its allow-lists are read.
 * Throws ConfigError naming a bad variable.
 */
export function parseProviders(vars: Record<string, unknown>): ProviderConfig[] {
  return PROVIDERS.flatMap((descriptor) => {
    const settings = readVariables(descriptor.settings, vars);
    if (!settings) return [];
    const { id, label, keyVariable } = descriptor;
    return [{ ...settings, id, label, keyVariable, allowedModels: allowListOf(descriptor, vars), models: settings.models ?? shippedModelsOf(id) }];
  });
}

/** The names and aliases of a provider's allow-list variables; null (every model) when all are empty. */
function allowListOf(descriptor: ProviderDescriptor, vars: Record<string, unknown>): ReadonlySet<string> | null {
  const lists = readVariables(z.object(Object.fromEntries(descriptor.allowListVariables.map((name) => [name, list()]))), vars);
  const entries = Object.values(lists).flat();
  return entries.length > 0 ? new Set(entries) : null;
}
