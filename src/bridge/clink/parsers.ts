/**
 * The answer inside each CLI's machine-readable output. The shapes are the CLIs' own:
 * - Claude Code, `claude -p --output-format json`: one result object,
 *   `{type: "result", subtype: "success" | "error_...", is_error, result, session_id, num_turns, total_cost_usd, ...}`.
 * - Codex, `codex exec --json`: one JSON event per line, `thread.started`, `turn.started`,
 *   `item.started` / `item.completed` (the answer is an `agent_message` item's `text`),
 *   `turn.completed` (with `usage`), `turn.failed` or `error` on failure.
 * - Gemini CLI, `gemini --output-format json`: one object, `{response, stats, error?}`
 *   (its headless-mode reference).
 */

export const PARSERS = ["claude-json", "codex-jsonl", "gemini-json"] as const;
export type ParserName = (typeof PARSERS)[number];

export type MetadataValue = string | number | boolean | null;

export interface ParsedAnswer {
  content: string;
  /** Facts the CLI reported (session, usage...), for the envelope's metadata. */
  metadata: Record<string, MetadataValue>;
}

/** The output is not what the parser expects, or the CLI reported a failure inside it. */
export class OutputError extends Error {
  override name = "OutputError";
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The JSON object of an output that holds one, allowing for lines a CLI prints before it (warnings, notices). */
function singleObject(stdout: string, what: string): Json {
  const start = stdout.indexOf("{");
  if (start >= 0) {
    try {
      const parsed: unknown = JSON.parse(stdout.slice(start));
      if (isObject(parsed)) return parsed;
    } catch {
      // Reported below, with the start of the output.
    }
  }
  throw new OutputError(`expected ${what}, got: ${excerpt(stdout)}`);
}

function excerpt(text: string): string {
  const trimmed = text.trim();
  if (trimmed === "") return "no output at all";
  return trimmed.length > 300 ? `${JSON.stringify(trimmed.slice(0, 300))}...` : JSON.stringify(trimmed);
}

/** Only the scalar facts worth passing on. */
function pick(source: Json, keys: string[], prefix = ""): Record<string, MetadataValue> {
  const picked: Record<string, MetadataValue> = {};
  for (const key of keys) {
    const value = source[key];
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") picked[`${prefix}${key}`] = value;
  }
  return picked;
}

function parseClaude(stdout: string): ParsedAnswer {
  const result = singleObject(stdout, "Claude Code's JSON result object");
  if (result["type"] !== "result") throw new OutputError(`expected an object of type "result", got type ${JSON.stringify(result["type"])}`);
  const text = typeof result["result"] === "string" ? result["result"] : "";
  if (result["is_error"] === true || result["subtype"] !== "success") {
    const errors = Array.isArray(result["errors"]) ? result["errors"].filter((e) => typeof e === "string").join("; ") : "";
    throw new OutputError(`Claude Code reported ${String(result["subtype"])}: ${text || errors || "no detail"}`);
  }
  if (text.trim() === "") throw new OutputError("Claude Code's result is empty");
  return { content: text, metadata: pick(result, ["session_id", "num_turns", "duration_ms", "total_cost_usd"]) };
}

function parseCodex(stdout: string): ParsedAnswer {
  const messages: string[] = [];
  const failures: string[] = [];
  let metadata: Record<string, MetadataValue> = {};
  let events = 0;
  for (const line of stdout.split("\n")) {
    const trimmed = line.trim();
    if (!trimmed.startsWith("{")) continue;
    let event: unknown;
    try {
      event = JSON.parse(trimmed);
    } catch {
      continue;
    }
    if (!isObject(event)) continue;
    events++;
    const item = event["item"];
    if (event["type"] === "item.completed" && isObject(item) && item["type"] === "agent_message" && typeof item["text"] === "string") {
      messages.push(item["text"]);
    } else if (event["type"] === "thread.started") {
      metadata = { ...metadata, ...pick(event, ["thread_id"]) };
    } else if (event["type"] === "turn.completed" && isObject(event["usage"])) {
      metadata = { ...metadata, ...pick(event["usage"], ["input_tokens", "cached_input_tokens", "output_tokens"], "usage_") };
    } else if (event["type"] === "turn.failed" && isObject(event["error"])) {
      failures.push(String(event["error"]["message"] ?? "turn failed"));
    } else if (event["type"] === "error") {
      failures.push(String(event["message"] ?? "error"));
    }
  }
  if (messages.length > 0) return { content: messages.join("\n\n"), metadata };
  if (failures.length > 0) throw new OutputError(`Codex reported: ${failures.join("; ")}`);
  if (events === 0) throw new OutputError(`expected Codex's JSON event lines, got: ${excerpt(stdout)}`);
  throw new OutputError("Codex's events hold no agent_message");
}

function parseGemini(stdout: string): ParsedAnswer {
  const output = singleObject(stdout, "Gemini CLI's JSON output");
  const error = output["error"];
  if (isObject(error)) throw new OutputError(`Gemini CLI reported: ${String(error["message"] ?? error["type"] ?? "an error")}`);
  const response = output["response"];
  if (typeof response !== "string") throw new OutputError('Gemini CLI\'s JSON output has no "response" text');
  if (response.trim() === "") throw new OutputError("Gemini CLI's response is empty");
  const metadata = pick(output, ["session_id"]);
  const stats = output["stats"];
  if (isObject(stats) && isObject(stats["models"])) metadata["models"] = Object.keys(stats["models"]).join(", ");
  return { content: response, metadata };
}

export const parsers: Record<ParserName, (stdout: string) => ParsedAnswer> = {
  "claude-json": parseClaude,
  "codex-jsonl": parseCodex,
  "gemini-json": parseGemini,
};
