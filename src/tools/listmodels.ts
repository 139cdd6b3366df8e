import { capabilityRank, type ModelCapabilities } from "../providers/capabilities";
import { PROVIDERS, shippedAsOf } from "../providers/catalog";
import { catalogStatusOf, currentCatalogState, describeCatalog, type CatalogStatus } from "../providers/model-catalog";
import { NO_PROVIDER_MESSAGE, type ModelRegistry } from "../providers/registry";
import { defineTool } from "./define";
import { jsonResult, toolOutput } from "./engine/envelope";

function formatContext(tokens: number): string {
  return tokens >= 1_000_000 ? `${(tokens / 1_048_576).toFixed(1).replace(/\.0$/, "")}M` : `${Math.round(tokens / 1_000)}K`;
}

function modelLine(model: ModelCapabilities): string {
  const traits = [
    `score ${capabilityRank(model)}`,
    `${formatContext(model.contextWindow)} context`,
    ...(model.supportsExtendedThinking ? ["thinking"] : []),
    ...(model.supportsImages ? ["images"] : []),
    ...(model.allowCodeGeneration ? ["code-gen"] : []),
  ].join(", ");
  const aliases = model.aliases.length > 0 ? ` — aliases: ${model.aliases.join(", ")}` : "";
  const description = model.description ? `\n  ${model.description}` : "";
  return `- \`${model.modelName}\` (${traits})${aliases}${description}`;
}

/** The markdown listing: one section per provider, configured or not (curated models, then the catalog's), then a summary. */
export function renderModelListing(registry: ModelRegistry, catalog: CatalogStatus): string {
  const configured = new Set(registry.providers.map((p) => p.id));
  const sections = PROVIDERS.map(({ id, title }) => {
    if (!configured.has(id)) return `## ${title} ❌\nNot configured.`;
    const provider = registry.providers.find((p) => p.id === id);
    const models = [...registry.modelsOf(id)].sort((a, b) => capabilityRank(b) - capabilityRank(a));
    const policy = provider?.allowedModels ? " (policy restricted)" : "";
    const catchAll =
      id === "openrouter"
        ? "\nAny other `vendor/model` name goes to OpenRouter: with the catalog's facts when it lists it, else with generic capabilities."
        : "";
    const custom = id === "custom" && provider?.modelName ? `\nDefault model: \`${provider.modelName}\`.` : "";
    const curated = models.filter((m) => !m.catalogOnly).map(modelLine);
    const listed = models.filter((m) => m.catalogOnly).map(modelLine);
    const fromCatalog = listed.length > 0 ? [`From the model catalog (${listed.length}):`, ...listed] : [];
    const body = models.length > 0 ? [...curated, ...fromCatalog].join("\n") : "No models allowed by the current policy.";
    return `## ${title} ✅${policy}\n${body}${catchAll}${custom}`;
  });
  const total = registry.available().length;
  const summary = [
    "## Summary",
    `- Configured providers: ${configured.size}`,
    `- Available models: ${total}`,
    registry.autoMode
      ? "- Model selection: auto (omit `model` and the server picks one suited to the tool)"
      : "- Model selection: a default model is configured; name another to override it",
    `- Model catalog: ${describeCatalog(catalog, shippedAsOf())}`,
    "- A name in no catalog goes to the provider it clearly belongs to (its prefix, its naming family, or the only one configured) with generic limits, and a note in the result's metadata",
    ...(configured.size === 0 ? [`- ${NO_PROVIDER_MESSAGE}`] : []),
    "",
    "Use a model name or any alias (case-insensitive) as the `model` argument of a tool.",
  ].join("\n");
  return `# Available AI models\n\n${sections.join("\n\n")}\n\n${summary}`;
}

export const listmodels = defineTool({
  name: "listmodels",
  title: "List models",
  description: "List the AI models this server can consult, by provider, with aliases, context windows and capabilities.",
  input: {},
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(_args, { registry }) {
    const catalog = catalogStatusOf(currentCatalogState());
    const output = toolOutput({
      status: "success",
      content: renderModelListing(registry, catalog),
      content_type: "markdown",
      metadata: {
        tool_name: "listmodels",
        configured_providers: registry.providers.length,
        available_models: registry.available().length,
        catalog_source: catalog.current?.source ?? null,
        catalog_fetched_at: catalog.current?.fetchedAt ?? null,
        catalog_age: catalog.current?.age ?? null,
        ...(catalog.lastAttempt && !catalog.lastAttempt.ok ? { catalog_refresh_error: catalog.lastAttempt.error } : {}),
      },
    });
    return jsonResult(output);
  },
});
