import { z } from "zod";
import { THINKING_MODES } from "../core/config";
import { fileReference } from "../files/references";

/**
 * Fields shared by the tools' schemas. What they mean is said once, in the server's
 * instructions, so the schemas stay small (the whole tools/list has a token budget).
 */

/**
 * The JSON Schema a field is advertised with in tools/list, when it should be shorter than the
 * one generated from its zod schema. Arguments are still checked against the zod schema.
 */
const advertised = new WeakMap<object, Record<string, unknown>>();

export function advertise<T extends z.ZodType>(schema: T, json: Record<string, unknown>): T {
  advertised.set(schema, json);
  return schema;
}

export function advertisedJsonSchema(schema: object): Record<string, unknown> | undefined {
  return advertised.get(schema);
}

export const continuationIdField = z.string();

export const temperatureField = z.number().min(0).max(1);

export const thinkingModeField = advertise(z.enum(THINKING_MODES), { type: "string" });

/** Absolute paths (uploaded by the bridge), `sha256:<hex>` references, or `{path, content}` inline. */
export const filesField = advertise(z.array(fileReference), { type: "array", items: { type: ["string", "object"] } });

export const imagesField = z.array(z.string());
