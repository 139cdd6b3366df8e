import type { Tool } from "@modelcontextprotocol/server";
import { z } from "zod";
import type { Config } from "../core/config";
import { KvCache } from "../kv-cache/cache";
import { capabilityRank } from "../providers/capabilities";
import type { ModelRegistry } from "../providers/registry";
import type { ToolCard } from "../tools/define";
import { advertisedJsonSchema } from "../tools/fields";
import { SERVER_VERSION } from "../core/version";

const TOP_MODELS_LISTED = 5;

/** The best models available, for the server's instructions (said once, not in every schema). */
export function topModels(registry: ModelRegistry): string {
  const models = registry.available();
  if (models.length === 0) return "No provider is configured yet: see listmodels.";
  const top = models
    .slice(0, TOP_MODELS_LISTED)
    .map((m) => `${m.modelName} (score ${capabilityRank(m)}${m.supportsExtendedThinking ? ", thinking" : ""})`)
    .join("; ");
  const more = models.length > TOP_MODELS_LISTED ? `; +${models.length - TOP_MODELS_LISTED} more via listmodels` : "";
  return `Top models: ${top}${more}.`;
}

/** The `model` field's description. */
export function modelFieldDescription(config: Config, registry: ModelRegistry): string {
  return registry.autoMode ? "Name or alias; omit for auto." : `Name or alias; default '${config.defaultModel}'.`;
}

const argumentSchemas = new WeakMap<ToolCard, { modelDescription: string; schema: z.ZodObject }>();

/**
 * The zod object a tool's arguments are checked against: its own fields plus `model` when it
 * calls one. Built once per tool (and model hint) per isolate, not on every call.
 */
export function argumentSchema(card: ToolCard, modelDescription: string): z.ZodObject {
  const cached = argumentSchemas.get(card);
  if (cached?.modelDescription === modelDescription) return cached.schema;
  const shape = card.modelCategory ? { ...card.input, model: z.string().optional().describe(modelDescription) } : card.input;
  const schema = z.strictObject(shape);
  argumentSchemas.set(card, { modelDescription, schema });
  return schema;
}

/**
 * The JSON Schema clients see: as zod generates it, with the shorter forms some fields are
 * advertised with, and without the integer bounds zod adds by default (noise in every schema).
 */
function toJsonSchema(schema: z.ZodType): Tool["inputSchema"] {
  const generated = z.toJSONSchema(schema, {
    target: "draft-7",
    io: "input",
    override: ({ zodSchema, jsonSchema }) => {
      const json = jsonSchema as Record<string, unknown>;
      const short = advertisedJsonSchema(zodSchema);
      if (short) {
        for (const key of Object.keys(json)) if (key !== "description") delete json[key];
        Object.assign(json, short);
      }
      if (json["maximum"] === Number.MAX_SAFE_INTEGER) delete json["maximum"];
      if (json["minimum"] === Number.MIN_SAFE_INTEGER) delete json["minimum"];
    },
  }) as Record<string, unknown>;
  const { $schema: _ignored, ...json } = generated;
  return json as Tool["inputSchema"];
}

/**
 * Every tool answers with one JSON object whose `status` says what happened (the original's
 * contract), sent as structured content and as text. Said once, in few tokens: the keys beside
 * `status` depend on the tool and the status, and are the original's.
 */
export const TOOL_OUTPUT_SCHEMA = { type: "object", required: ["status"] } as const;

function describeTool(card: ToolCard, modelDescription: string): Tool {
  return {
    name: card.name,
    title: card.title,
    description: card.description,
    inputSchema: toJsonSchema(argumentSchema(card, modelDescription)),
    outputSchema: TOOL_OUTPUT_SCHEMA,
    annotations: card.annotations,
  };
}

const toolListCache = new KvCache<Tool[]>("tools-list:v2", { maxEntries: 32, ttlSeconds: 7 * 24 * 3600 });

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
  return toolListCache.get(kv, await cacheKey(tools, modelDescription), () => tools.map((card) => describeTool(card, modelDescription)), defer);
}

/** Cache keys by tool list (one per configuration) and model hint: hashed once per isolate, not per request. */
const cacheKeys = new WeakMap<ToolCard[], Map<string, Promise<string>>>();

function cacheKey(tools: ToolCard[], modelDescription: string): Promise<string> {
  let byDescription = cacheKeys.get(tools);
  if (!byDescription) {
    byDescription = new Map();
    cacheKeys.set(tools, byDescription);
  }
  let key = byDescription.get(modelDescription);
  if (!key) {
    const shaping = JSON.stringify({ tools: tools.map((t) => t.name), modelDescription });
    key = sha256Hex(shaping).then((digest) => `${SERVER_VERSION}:${digest.slice(0, 32)}`);
    byDescription.set(modelDescription, key);
  }
  return key;
}
