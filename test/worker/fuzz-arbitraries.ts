/**
 * fast-check arbitraries for fuzzing the worker: tool arguments drawn from a tool's advertised
 * JSON Schema (tools/list), the same mutated beyond it, hostile strings, and JSON-RPC bodies.
 */
import fc from "fast-check";
import { THINKING_MODES } from "../../src/core/config.ts";
import { CONFIDENCE_LEVELS } from "../../src/tools/engine/steps";

type Schema = Record<string, unknown>;
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Strings that have broken servers: traversal, NUL, control and bidi characters, huge, lone surrogates. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "../../../../etc/passwd",
    "/etc/passwd",
    "/../../.dev.vars",
    "..\\..\\windows\\system32",
    "C:\\..\\..\\boot.ini",
    "sha256:" + "0".repeat(64),
    "sha256:../../x",
    "/repo/\u0000/a.py",
    "\u202e/repo/evil",
    "\ud800",
    "%2e%2e%2f%2e%2e%2f",
    "file:///etc/passwd",
    "data:image/png;base64,!!!!",
    "data:text/plain;base64,aGk=",
    "__proto__",
    "constructor",
    "auto",
    "flash",
    "gpt-4.1",
    "gpt-5-codex",
    "00000000-0000-0000-0000-000000000000",
    "{{7*7}}",
    "'; DROP TABLE turns; --",
  ),
  fc.uuid(),
  fc.string({ unit: "binary", maxLength: 64 }),
  fc.string({ unit: "grapheme", maxLength: 64 }),
  fc.nat({ max: 200_000 }).map((n) => "x".repeat(n)),
);

/** Any JSON value, some of them deep. */
export const anyJson: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<JsonValue>,
  fc.nat({ max: 3_000 }).map((depth) => {
    let value: JsonValue = "bottom";
    for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { nested: value };
    return value;
  }),
  hostileString,
  fc.constantFrom(Number.MAX_SAFE_INTEGER, -1, 0, 1e308, -0, 0.5),
);

function typesOf(schema: Schema): string[] {
  const type = schema["type"];
  if (Array.isArray(type)) return type.filter((t): t is string => typeof t === "string");
  return typeof type === "string" ? [type] : [];
}

/**
 * Values for fields the schemas advertise as plain strings to stay small (the server's
 * instructions name their values): without them nearly every call would stop at validation.
 */
const FIELD_HINTS: Record<string, fc.Arbitrary<JsonValue>> = {
  model: fc.oneof(fc.constantFrom("flash", "gpt-4.1", "gpt-5-codex", "gpt-5-pro", "auto"), hostileString),
  // refactor has a scale of its own.
  confidence: fc.oneof(fc.constantFrom(...CONFIDENCE_LEVELS, "incomplete", "partial", "complete"), hostileString),
  // A workflow starts at step 1; a later step without its session's id is refused before any work.
  step_number: fc.oneof({ arbitrary: fc.constant(1), weight: 3 }, { arbitrary: fc.integer({ min: 1, max: 6 }), weight: 1 }),
  total_steps: fc.integer({ min: 1, max: 4 }),
  issues_found: fc.array(
    fc.record({ severity: fc.oneof(fc.constantFrom("critical", "high", "medium", "low"), hostileString), description: fc.string({ maxLength: 80 }) }),
    { maxLength: 3 },
  ),
  thinking_mode: fc.oneof(fc.constantFrom(...THINKING_MODES), hostileString),
  continuation_id: fc.oneof(fc.uuid(), hostileString),
  relevant_files: fileList(),
  absolute_file_paths: fileList(),
  images: fc.array(fc.oneof(fc.constant("data:image/png;base64,iVBORw0KGgo="), hostileString), { maxLength: 6 }),
};

/** Files as the tools take them: inline content, absolute paths (unknown to the server), content references. */
function fileList(): fc.Arbitrary<JsonValue> {
  const file = fc.oneof(
    { arbitrary: fc.record({ path: fc.constantFrom("/repo/a.py", "/repo/b.ts", "C:\\repo\\c.go", "/repo/../etc/passwd"), content: fc.string({ maxLength: 300 }) }), weight: 3 },
    { arbitrary: fc.constantFrom("/repo/src", "/repo/missing.py", `sha256:${"a".repeat(64)}`), weight: 1 },
    { arbitrary: hostileString, weight: 1 },
  );
  return fc.array(file as fc.Arbitrary<JsonValue>, { maxLength: 4 });
}

/** An optional field is left out three times in four: a call with every optional field set is rare in practice. */
function optional(value: fc.Arbitrary<JsonValue>): fc.Arbitrary<JsonValue | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: value, weight: 1 });
}

/** A value the schema allows (loosely: string patterns and formats are not followed). */
export function fromSchema(schema: Schema, depth = 0): fc.Arbitrary<JsonValue> {
  if (Array.isArray(schema["enum"]) && schema["enum"].length > 0) return fc.constantFrom(...(schema["enum"] as JsonValue[]));
  if ("const" in schema) return fc.constant(schema["const"] as JsonValue);
  const alternatives = (schema["anyOf"] ?? schema["oneOf"]) as Schema[] | undefined;
  if (Array.isArray(alternatives) && alternatives.length > 0) return fc.oneof(...alternatives.map((s) => fromSchema(s, depth + 1)));
  const types = typesOf(schema);
  if (types.length > 1) return fc.oneof(...types.map((type) => fromSchema({ ...schema, type }, depth + 1)));
  switch (types[0]) {
    case "string": {
      const minLength = typeof schema["minLength"] === "number" ? schema["minLength"] : 0;
      const maxLength = typeof schema["maxLength"] === "number" ? schema["maxLength"] : 200;
      return fc.oneof(
        { arbitrary: fc.string({ minLength: Math.max(1, minLength), maxLength: Math.max(minLength, 1, Math.min(maxLength, 200)) }), weight: 4 },
        { arbitrary: hostileString, weight: 1 },
      );
    }
    case "integer": {
      const min = typeof schema["minimum"] === "number" ? schema["minimum"] : -1_000;
      const max = typeof schema["maximum"] === "number" ? schema["maximum"] : 1_000;
      return fc.integer({ min: Math.ceil(min), max: Math.floor(max) });
    }
    case "number": {
      const min = typeof schema["minimum"] === "number" ? schema["minimum"] : -1_000;
      const max = typeof schema["maximum"] === "number" ? schema["maximum"] : 1_000;
      return fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
    }
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array": {
      const items = (schema["items"] as Schema | undefined) ?? {};
      return fc.array(depth > 4 ? anyJson : fromSchema(items, depth + 1), { maxLength: 6 });
    }
    case "object": {
      const properties = (schema["properties"] as Record<string, Schema> | undefined) ?? {};
      const required = new Set((schema["required"] as string[] | undefined) ?? []);
      const entries = Object.entries(properties);
      if (entries.length === 0) return fc.dictionary(fc.string({ maxLength: 10 }), anyJson, { maxKeys: 3 });
      const fields = entries.map(([name, property]) => {
        const value = (depth === 0 ? FIELD_HINTS[name] : undefined) ?? fromSchema(property, depth + 1);
        return [name, required.has(name) ? value : optional(value)] as const;
      });
      return fc
        .record(Object.fromEntries(fields))
        .map((record) => Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as JsonValue);
    }
    default:
      return anyJson;
  }
}

/** Arguments beyond the schema: a field of the wrong type, a required one missing, unknown fields, or not an object at all. */
export function mutatedArguments(schema: Schema): fc.Arbitrary<JsonValue> {
  const valid = fromSchema(schema) as fc.Arbitrary<{ [key: string]: JsonValue }>;
  const names = Object.keys((schema["properties"] as Record<string, unknown> | undefined) ?? {});
  const required = (schema["required"] as string[] | undefined) ?? [];
  const field = names.length > 0 ? fc.constantFrom(...names) : fc.string({ maxLength: 8 });
  return fc.oneof(
    { arbitrary: valid, weight: 6 },
    fc.tuple(valid, field, anyJson).map(([args, name, value]) => ({ ...args, [name]: value })),
    fc.tuple(valid, field, hostileString).map(([args, name, value]) => ({ ...args, [name]: value })),
    ...(required.length > 0
      ? [fc.tuple(valid, fc.constantFrom(...required)).map(([args, name]) => Object.fromEntries(Object.entries(args).filter(([key]) => key !== name)))]
      : []),
    fc.tuple(valid, fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), anyJson, { minKeys: 1, maxKeys: 4 })).map(([args, extra]) => ({ ...extra, ...args })),
    anyJson,
  );
}

/** Bodies for /mcp that are not a well-formed single request: garbage, truncated, batches, wrong shapes. */
export const hostileRpcBody: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc
    .record({
      jsonrpc: fc.oneof(fc.constant("2.0"), fc.constant("1.0"), anyJson),
      id: fc.oneof(fc.integer(), fc.string({ maxLength: 20 }), fc.constant(null), anyJson),
      method: fc.oneof(fc.constantFrom("initialize", "tools/list", "tools/call", "prompts/get", "prompts/list", "ping", "resources/list", "notifications/initialized", "logging/setLevel", "completion/complete"), fc.string({ maxLength: 30 })),
      params: anyJson,
    }, { requiredKeys: [] })
    .map((message) => JSON.stringify(message)),
  fc.array(fc.record({ jsonrpc: fc.constant("2.0"), id: fc.integer(), method: fc.constantFrom("ping", "tools/list") }), { maxLength: 5 }).map((batch) => JSON.stringify(batch)),
  fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.nat()).map(([value, cut]) => {
    const text = JSON.stringify(value);
    return text.slice(0, cut % Math.max(1, text.length));
  }),
  fc.nat({ max: 5_000 }).map((depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`),
);

/** A header value: absent, sensible (the first most often, so requests also get past the checks), wrong, or hostile. */
export function headerValue(sensible: string[]): fc.Arbitrary<string | undefined> {
  const [usual, ...others] = sensible;
  return fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 2 },
    { arbitrary: fc.constant(usual), weight: 3 },
    { arbitrary: fc.constantFrom(...(others.length > 0 ? others : sensible)), weight: 2 },
    { arbitrary: fc.string({ maxLength: 80 }).filter((value) => /^[\t\x20-\x7e]*$/.test(value)), weight: 1 },
    {
      arbitrary: fc.constantFrom("", "*/*", "text/html", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "../../etc", "a".repeat(200)),
      weight: 1,
    },
  );
}
