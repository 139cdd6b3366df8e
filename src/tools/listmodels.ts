import { capabilityRank, type ModelCapabilities } from "../providers/capabilities";
import { PROVIDERS } from "../providers/catalog";
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

/** The markdown listing: one section per provider, configured or not, then a summary. */
export function renderModelListing(registry: ModelRegistry): string {
  const configured = new Set(registry.providers.map((p) => p.id));
  const sections = PROVIDERS.map(({ id, title }) => {
    if (!configured.has(id)) return `## ${title} ❌\nNot configured.`;
    const provider = registry.providers.find((p) => p.id === id);
    const models = [...registry.modelsOf(id)].sort((a, b) => capabilityRank(b) - capabilityRank(a));
    const policy = provider?.allowedModels ? " (policy restricted)" : "";
    const catchAll =
      id === "openrouter" ? "\nAny other `vendor/model` name is passed through to OpenRouter with generic capabilities." : "";
    const custom = id === "custom" && provider?.modelName ? `\nDefault model: \`${provider.modelName}\`.` : "";
    const body = models.length > 0 ? models.map(modelLine).join("\n") : "No models allowed by the current policy.";
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
    const output = toolOutput({
      status: "success",
      content: renderModelListing(registry),
      content_type: "markdown",
      metadata: {
        tool_name: "listmodels",
        configured_providers: registry.providers.length,
        available_models: registry.available().length,
      },
    });
    return jsonResult(output);
  },
});
