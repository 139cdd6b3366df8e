/**
 * Recorded upstream exchanges under test/fixtures/upstream/<vendor>/<name>.json, loaded into one
 * normalized shape for every vendor.
 *
 * Three formats exist:
 * - openai/: `{interactions:[{request:{method,url,path,headers,content}, response:{status_code,
 *   reason_phrase, headers, content:{data,encoding:"base64",size}}}]}`. `request.content` is the
 *   parsed JSON body; `response.content.data` is the body (already decompressed, even though the
 *   recorded headers still say `content-encoding: gzip`).
 * - gemini/: google-genai replay files `{replay_id, interactions:[{request:{method,url,headers,
 *   body_segments}, response:{status_code, headers, body_segments, ...}}]}`. Each body segment is
 *   one parsed JSON object; a streamed response has one segment per SSE event.
 * - anthropic/: `{description, interactions:[{request:{method,url,headers,body}, response:{status_code,
 *   headers, body}}]}`, written in the shape the Messages API documents: `request.body` is the JSON
 *   sent; `response.body` the Message object, or the SSE text of a streamed answer as a string.
 *
 * Names are `<vendor>/<file stem>` (e.g. "openai/chat_gpt5_moon_distance"); `loadFixture` also
 * accepts the bare stem when it is unique across vendors.
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export type Vendor = "openai" | "gemini" | "anthropic";

export interface FixtureInteraction {
  vendor: Vendor;
  request: {
    method: string;
    /** Path only, e.g. "/v1/chat/completions" or "/models/gemini-2.5-pro:generateContent". */
    path: string;
    /** Parsed JSON body (raw string if it was not JSON). */
    body: unknown;
  };
  response: {
    status: number;
    /** Recorded headers, lowercased. Encoding/length headers describe the original wire form. */
    headers: Record<string, string>;
    /** The body exactly as the client received it (decompressed). */
    body: string;
  };
}

// Resolved from this module's location so it works whatever the process cwd is.
const FIXTURES_DIR = fileURLToPath(new URL("../fixtures/upstream/", import.meta.url));
const VENDORS: readonly Vendor[] = ["openai", "gemini", "anthropic"];

const cache = new Map<string, FixtureInteraction[]>();

/** All fixture names, `<vendor>/<stem>`, sorted. */
export function listFixtures(): string[] {
  const names: string[] = [];
  for (const vendor of VENDORS) {
    let files: string[];
    try {
      files = readdirSync(FIXTURES_DIR + vendor);
    } catch {
      continue; // a vendor directory may be absent
    }
    for (const f of files) if (f.endsWith(".json")) names.push(`${vendor}/${f.slice(0, -5)}`);
  }
  return names.sort();
}

/** Maps "openai/x", "x", "x.json" to the canonical "<vendor>/<stem>" name. */
export function resolveFixtureName(name: string): string {
  const stem = name.endsWith(".json") ? name.slice(0, -5) : name;
  const all = listFixtures();
  if (all.includes(stem)) return stem;
  const matches = all.filter((n) => n.slice(n.indexOf("/") + 1) === stem);
  if (matches.length === 1 && matches[0] !== undefined) return matches[0];
  if (matches.length > 1) throw new Error(`ambiguous fixture name "${name}": ${matches.join(", ")}`);
  throw new Error(`unknown fixture "${name}" (known: ${all.join(", ")})`);
}

/** The fixture's interactions, in recorded order. Throws for an unknown name. */
export function loadFixture(name: string): FixtureInteraction[] {
  const canonical = resolveFixtureName(name);
  const cached = cache.get(canonical);
  if (cached) return cached;
  const vendor = canonical.slice(0, canonical.indexOf("/")) as Vendor;
  const raw: unknown = JSON.parse(readFileSync(`${FIXTURES_DIR}${canonical}.json`, "utf8"));
  const interactions = asRecord(raw)["interactions"];
  if (!Array.isArray(interactions)) throw new Error(`fixture ${canonical}: no interactions array`);
  const normalize = { openai: normalizeOpenAI, gemini: normalizeGemini, anthropic: normalizeAnthropic }[vendor];
  const normalized = interactions.map((it: unknown) => normalize(asRecord(it)));
  cache.set(canonical, normalized);
  return normalized;
}

function normalizeOpenAI(it: Record<string, unknown>): FixtureInteraction {
  const req = asRecord(it["request"]);
  const res = asRecord(it["response"]);
  const path = typeof req["path"] === "string" ? req["path"] : pathOf(String(req["url"] ?? "/"));
  return {
    vendor: "openai",
    request: { method: String(req["method"] ?? "POST").toUpperCase(), path, body: parseMaybeJson(req["content"]) },
    response: {
      status: Number(res["status_code"] ?? res["status"] ?? 200),
      headers: lowerHeaders(res["headers"]),
      body: decodeContent(res["content"]),
    },
  };
}

function normalizeGemini(it: Record<string, unknown>): FixtureInteraction {
  const req = asRecord(it["request"]);
  const res = asRecord(it["response"]);
  const url = String(req["url"] ?? "/");
  const reqSegments = Array.isArray(req["body_segments"]) ? (req["body_segments"] as unknown[]) : [];
  const resSegments = Array.isArray(res["body_segments"]) ? (res["body_segments"] as unknown[]) : [];
  // A streamed call's segments are SSE events; a unary call has exactly one JSON segment.
  const streamed = url.includes(":streamGenerateContent");
  const body = streamed
    ? resSegments.map((s) => `data: ${JSON.stringify(s)}\r\n\r\n`).join("")
    : JSON.stringify(resSegments.length === 1 ? resSegments[0] : resSegments);
  return {
    vendor: "gemini",
    request: {
      method: String(req["method"] ?? "post").toUpperCase(),
      path: pathOf(url),
      body: reqSegments.length === 1 ? reqSegments[0] : reqSegments,
    },
    response: { status: Number(res["status_code"] ?? 200), headers: lowerHeaders(res["headers"]), body },
  };
}

function normalizeAnthropic(it: Record<string, unknown>): FixtureInteraction {
  const req = asRecord(it["request"]);
  const res = asRecord(it["response"]);
  const body = res["body"];
  return {
    vendor: "anthropic",
    request: { method: String(req["method"] ?? "POST").toUpperCase(), path: pathOf(String(req["url"] ?? "/")), body: req["body"] },
    response: {
      status: Number(res["status_code"] ?? 200),
      headers: lowerHeaders(res["headers"]),
      body: typeof body === "string" ? body : JSON.stringify(body),
    },
  };
}

/** "{MLDEV_URL_PREFIX}/models/x:generateContent" or a full URL → the path part. */
function pathOf(url: string): string {
  const withoutPlaceholder = url.replace(/^\{[^}]*\}/, "");
  if (withoutPlaceholder.startsWith("/")) return withoutPlaceholder.split("?")[0] ?? "/";
  try {
    return new URL(withoutPlaceholder).pathname;
  } catch {
    return withoutPlaceholder;
  }
}

function decodeContent(content: unknown): string {
  if (typeof content === "string") return content;
  const c = asRecord(content);
  if (typeof c["data"] === "string") {
    return c["encoding"] === "base64" ? Buffer.from(c["data"], "base64").toString("utf8") : c["data"];
  }
  return JSON.stringify(content);
}

function parseMaybeJson(v: unknown): unknown {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

function lowerHeaders(h: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(asRecord(h))) out[k.toLowerCase()] = String(v);
  return out;
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
