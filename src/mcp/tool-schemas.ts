import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { Config } from "../config";
import { KvCache } from "../kv-cache/cache";
import { capabilityRank } from "../providers/capabilities";
import type { ModelRegistry } from "../providers/registry";
import type { ToolCard } from "../tools/define";
import { SERVER_VERSION } from "../version";

const TOP_MODELS_IN_HINT = 5;

/** The `model` field's description: in auto mode, the ranked top models so the assistant can choose. */
export function modelFieldDescription(config: Config, registry: ModelRegistry): string {
  if (!registry.autoMode) return `Model to use; default '${config.defaultModel}'. Names and aliases: listmodels.`;
  const models = registry.available();
  if (models.length === 0) return "Model to use. No provider is configured yet: see listmodels.";
  const top = models
    .slice(0, TOP_MODELS_IN_HINT)
    .map((m) => `${m.modelName} (score ${capabilityRank(m)}${m.supportsExtendedThinking ? ", thinking" : ""})`)
    .join("; ");
  const more = models.length > TOP_MODELS_IN_HINT ? `; +${models.length - TOP_MODELS_IN_HINT} more via listmodels` : "";
  return `Model to use; omit to let the server pick. Top: ${top}${more}.`;
}

const argumentSchemas = new WeakMap<ToolCard, { modelDescription: string; schema: z.ZodObject }>();

/**
 * The zod object a tool's arguments are checked against: its own fields plus `model` when it
 * calls one. Built once per tool (and model hint) per isolate, not on every call.
 */
export function argumentSchema(card: ToolCard, modelDescription: string): z.ZodObject {
  const cached = argumentSchemas.get(card);
  if (cached?.modelDescription === modelDescription) return cached.schema;
  const shape = card.modelCategory ? { ...card.input, model: z.string().min(1).optional().describe(modelDescription) } : card.input;
  const schema = z.strictObject(shape);
  argumentSchemas.set(card, { modelDescription, schema });
  return schema;
}

function toJsonSchema(schema: z.ZodType, io: "input" | "output"): Tool["inputSchema"] {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { target: "draft-7", io }) as Record<string, unknown>;
  return json as Tool["inputSchema"];
}

function describeTool(card: ToolCard, modelDescription: string): Tool {
  return {
    name: card.name,
    title: card.title,
    description: card.description,
    inputSchema: toJsonSchema(argumentSchema(card, modelDescription), "input"),
    ...(card.output ? { outputSchema: toJsonSchema(card.output, "output") as Tool["outputSchema"] } : {}),
    annotations: { title: card.title, ...card.annotations },
  };
}

const toolListCache = new KvCache<Tool[]>("tools-list:v1", { maxEntries: 32, ttlSeconds: 7 * 24 * 3600 });

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The `tools/list` answer. A fresh MCP server is built per request, so the JSON schemas are
 * cached (in the isolate, then KV) under the server version and a hash of what shapes them.
 */
export async function listTools(
  kv: KVNamespace,
  tools: ToolCard[],
  modelDescription: string,
  defer: (work: Promise<unknown>) => void,
): Promise<Tool[]> {
  const shaping = JSON.stringify({ tools: tools.map((t) => t.name), modelDescription });
  const key = `${SERVER_VERSION}:${(await sha256Hex(shaping)).slice(0, 32)}`;
  return toolListCache.get(kv, key, () => tools.map((card) => describeTool(card, modelDescription)), defer);
}
