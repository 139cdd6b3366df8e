/**
 * The fault matrix: every provider × every upstream fault, end to end. One `wrangler dev` with
 * every provider pointed at the fake upstream; the official SDK client calls `chat` over /mcp.
 * Each case runs in a team of its own (its own breakers and threads), and its fault matches only
 * requests carrying the case's marker, so the cases run concurrently. For each case:
 *   1. a first exchange starts a thread;
 *   2. a continuation of it and then a new call both fail under the fault: an isError result
 *      naming the provider, the model and what to do, after the expected number of upstream requests;
 *   3. the next call on that model fails fast (breaker open, nothing sent) when the fault counts
 *      against the provider's breaker (threshold 2), and goes through when it does not;
 *   4. the thread still holds exactly its first exchange: a continuation on another provider is
 *      shown turns 1-2 and nothing of the failed calls, and is offered the remaining turns of 4.
 * Throughout, /mcp never answers 5xx and the worker logs no unexpected exception.
 *
 * A new case is one row of MATRIX (or one entry of TARGETS for a new provider).
 */
import { createHash, randomBytes } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { beforeAll, describe, expect, it } from "vitest";
import type { Fault, FakeUpstream } from "../fake-upstream/server.ts";
import { callTool, type ToolCall } from "../support/mcp-session.ts";
import "../support/observed.ts";
import type { WorkerProcess } from "../support/worker-process.ts";
import { e2eStack } from "../support/e2e-stack.ts";

/** A provider (and wire format) under test: the model a call names, and how errors name it. */
export interface Target {
  name: string;
  /** The provider as messages name it. */
  label: string;
  model: string;
  keyVariable: string;
}

export const TARGETS: Target[] = [
  { name: "Gemini (streamed)", label: "Gemini", model: "gemini-2.5-flash", keyVariable: "GEMINI_API_KEY" },
  { name: "OpenAI Chat (streamed)", label: "OpenAI", model: "gpt-4.1", keyVariable: "OPENAI_API_KEY" },
  { name: "OpenAI Responses (streamed)", label: "OpenAI", model: "gpt-5-codex", keyVariable: "OPENAI_API_KEY" },
  { name: "OpenAI Responses (JSON)", label: "OpenAI", model: "gpt-5-pro", keyVariable: "OPENAI_API_KEY" },
  { name: "Azure OpenAI (JSON)", label: "Azure OpenAI", model: "azure-gpt-4.1", keyVariable: "AZURE_OPENAI_API_KEY" },
  { name: "X.AI (streamed)", label: "X.AI", model: "grok-3", keyVariable: "XAI_API_KEY" },
  { name: "Anthropic (streamed)", label: "Anthropic", model: "claude-sonnet-4-5", keyVariable: "ANTHROPIC_API_KEY" },
  { name: "DIAL (streamed)", label: "DIAL", model: "anthropic.claude-sonnet-4.1-20250805-v1:0", keyVariable: "DIAL_API_KEY" },
  { name: "OpenRouter (streamed)", label: "OpenRouter", model: "mistralai/mistral-large-2411", keyVariable: "OPENROUTER_API_KEY" },
  { name: "Custom endpoint (streamed)", label: "Custom endpoint", model: "llama3.2", keyVariable: "CUSTOM_API_KEY" },
];

/** One upstream fault and what the assistant must get. */
export interface Row {
  fault: string;
  /** Applied to every upstream request of the failing calls. */
  inject: Omit<Fault, "kind" | "model" | "bodyIncludes" | "times">;
  /** The ProviderError kind the message stands for. */
  kind: "retryable" | "final" | "safety" | "empty";
  /** Beyond the provider and the model, which every message names. */
  message: (target: Target) => RegExp;
  /** Counts against the provider's circuit breaker. */
  countsAgainstBreaker: boolean;
  /** Upstream requests one failing call makes (PROVIDER_MAX_ATTEMPTS=2). */
  upstreamRequests: number;
}

const TRANSIENT = "This is usually temporary: try again in a moment, or choose a model from another provider.";
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const transient = (pattern: string) => () => new RegExp(`${pattern}.*\\(gave up after 2 attempts\\)\\. ${escape(TRANSIENT)}$`);

export const MATRIX: Row[] = [
  { fault: "HTTP 500", inject: { status: 500 }, kind: "retryable", message: transient("returned HTTP 500"), countsAgainstBreaker: true, upstreamRequests: 2 },
  { fault: "HTTP 502", inject: { status: 502 }, kind: "retryable", message: transient("returned HTTP 502"), countsAgainstBreaker: true, upstreamRequests: 2 },
  { fault: "HTTP 503", inject: { status: 503 }, kind: "retryable", message: transient("returned HTTP 503"), countsAgainstBreaker: true, upstreamRequests: 2 },
  { fault: "HTTP 429", inject: { status: 429 }, kind: "retryable", message: transient("returned HTTP 429"), countsAgainstBreaker: true, upstreamRequests: 2 },
  { fault: "HTTP 429, Retry-After: 30", inject: { status: 429, retryAfter: 30 }, kind: "retryable", message: (t) => new RegExp(`returned HTTP 429.*${escape(t.label)} asked to wait 30 s: try again in about 30 s`), countsAgainstBreaker: true, upstreamRequests: 1 },
  { fault: "no answer until the deadline", inject: { hang: true }, kind: "retryable", message: () => new RegExp(`did not answer within 3 s \\(the per-call deadline\\)\\. ${escape(TRANSIENT)}$`), countsAgainstBreaker: true, upstreamRequests: 1 },
  { fault: "connection reset before any answer", inject: { reset: true }, kind: "retryable", message: transient("The connection to .* failed"), countsAgainstBreaker: true, upstreamRequests: 2 },
  { fault: "connection reset mid-body", inject: { truncate: true }, kind: "retryable", message: transient("The connection to .* failed"), countsAgainstBreaker: true, upstreamRequests: 2 },
  { fault: "malformed JSON", inject: { malformed: true }, kind: "retryable", message: transient("sent a malformed (response|stream event) \\(not JSON\\)"), countsAgainstBreaker: true, upstreamRequests: 2 },
  { fault: "stream (or body) ended early", inject: { endEarly: true }, kind: "retryable", message: transient("(ended the stream before the answer was complete|sent a malformed response \\(not JSON\\))"), countsAgainstBreaker: true, upstreamRequests: 2 },
  { fault: "empty reply", inject: { emptyText: true }, kind: "empty", message: () => /answered with nothing, twice\. Try again or choose another model\.$/, countsAgainstBreaker: false, upstreamRequests: 2 },
  { fault: "safety block", inject: { safetyBlock: true }, kind: "safety", message: () => /(withheld the answer|blocked).*Rephrase the request, or choose a model from another provider\.$/, countsAgainstBreaker: false, upstreamRequests: 1 },
  { fault: "HTTP 401 (bad key)", inject: { status: 401 }, kind: "final", message: (t) => new RegExp(`returned HTTP 401: .*Check ${t.keyVariable}\\.$`), countsAgainstBreaker: false, upstreamRequests: 1 },
];

/** What every failure message ends with: something the assistant can do. */
const REMEDY = /(try again|Check [A-Z_]+\.|Rephrase|choose a model|choose another model)/i;

interface Case {
  id: number;
  title: string;
  target: Target;
  row: Row;
  token: string;
}

const CASES: Case[] = TARGETS.flatMap((target) => MATRIX.map((row) => ({ target, row }))).map((c, id) => ({
  ...c,
  id,
  title: `${c.target.name}: ${c.row.fault}`,
  token: `matrix-${id}-${randomBytes(8).toString("hex")}`,
}));

let upstream: FakeUpstream;
let worker: WorkerProcess;
/** Every status /mcp answered with. */
const mcpStatuses: number[] = [];

function vars(): Record<string, string> {
  const teams = Object.fromEntries(CASES.map((c) => [createHash("sha256").update(c.token).digest("hex"), `matrix-${c.id}`]));
  return {
    GEMINI_API_KEY: "k-gemini",
    GEMINI_BASE_URL: upstream.url,
    OPENAI_API_KEY: "k-openai",
    OPENAI_BASE_URL: `${upstream.url}/v1`,
    AZURE_OPENAI_API_KEY: "k-azure",
    AZURE_OPENAI_ENDPOINT: upstream.url,
    AZURE_MODELS: JSON.stringify([
      { model_name: "azure-gpt-4.1", deployment: "zen-azure-deployment", context_window: 1_000_000, max_output_tokens: 32_768, supports_streaming: false },
    ]),
    XAI_API_KEY: "k-xai",
    XAI_BASE_URL: `${upstream.url}/v1`,
    ANTHROPIC_API_KEY: "k-anthropic",
    ANTHROPIC_BASE_URL: upstream.url,
    DIAL_API_KEY: "k-dial",
    DIAL_API_HOST: upstream.url,
    OPENROUTER_API_KEY: "k-openrouter",
    OPENROUTER_BASE_URL: `${upstream.url}/api/v1`,
    CUSTOM_API_URL: `${upstream.url}/local/v1`,
    CUSTOM_API_KEY: "k-custom",
    TEAM_TOKENS: JSON.stringify(teams),
    PROVIDER_MAX_ATTEMPTS: "2",
    PROVIDER_CALL_DEADLINE_SECONDS: "3",
    BREAKER_FAILURE_THRESHOLD: "2",
    // Long enough that an opened breaker is still open when the case looks, however slow the machine.
    BREAKER_COOLDOWN_SECONDS: "3600",
  };
}

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: "fault-matrix", version: "1.0.0" });
  const recording: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    mcpStatuses.push(response.status);
    return response;
  };
  await client.connect(new StreamableHTTPClientTransport(new URL(worker.mcpUrl), { fetch: recording, requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

/** Upstream requests whose body carries a marker. */
function requestsWith(marker: string): string[] {
  return upstream
    .requests()
    .map((request) => JSON.stringify(request.body))
    .filter((body) => body.includes(marker));
}

function expectNamedFailure(result: ToolCall, c: Case): void {
  expect(result.isError, result.text).toBe(true);
  expect(result.text).toContain(c.target.label);
  expect(result.text).toContain(c.target.model);
  expect(result.text).toMatch(c.row.message(c.target));
  expect(result.text).toMatch(REMEDY);
  expect(result.text).not.toContain("failed unexpectedly");
  // One sentence per thought: no doubled or stranded full stops.
  expect(result.text).not.toMatch(/\.\.|\. \(/);
}

const stack = e2eStack();

beforeAll(async () => {
  upstream = await stack.upstream();
  worker = await stack.worker({ vars: vars() });
});

describe.concurrent("fault matrix: provider × fault through chat", () => {
  // Named by plain strings: vitest shortens the values it interpolates into test names.
  for (const c of CASES) it(c.title, async ({ task }) => {
    const marker = (what: string) => `[[${what}:${c.id}]]`;
    const client = await connect(c.token);
    try {
      const start = await callTool(client, "chat", { prompt: `Remember ${marker("start")}.`, model: c.target.model });
      expect(start.isError, start.text).toBe(false);
      const threadId = start.json?.continuation_offer.continuation_id as string;

      upstream.fault({ ...c.row.inject, bodyIncludes: marker("fault"), times: "always" });
      const continued = await callTool(client, "chat", { prompt: `Go on ${marker("fault")} 1`, continuation_id: threadId, model: c.target.model });
      expectNamedFailure(continued, c);
      expect(requestsWith(`${marker("fault")} 1`)).toHaveLength(c.row.upstreamRequests);
      const fresh = await callTool(client, "chat", { prompt: `Again ${marker("fault")} 2`, model: c.target.model });
      expectNamedFailure(fresh, c);

      const check = await callTool(client, "chat", { prompt: `Are you up? ${marker("check")}`, model: c.target.model });
      if (c.row.countsAgainstBreaker) {
        expect(check.isError, check.text).toBe(true);
        expect(check.text).toMatch(new RegExp(`^${escape(c.target.model)} was not called\\. Calls to ${escape(c.target.label)} are paused: its circuit breaker opened after 2 consecutive failures\\.`));
        expect(requestsWith(marker("check"))).toHaveLength(0);
      } else {
        expect(check.isError, check.text).toBe(false);
        expect(requestsWith(marker("check"))).toHaveLength(1);
      }

      // Read the thread back through a continuation on another provider (its breaker is closed).
      const reader = c.target.label === "Gemini" ? "gpt-4.1" : "gemini-2.5-flash";
      const read = await callTool(client, "chat", { prompt: `Recap ${marker("read")}`, continuation_id: threadId, model: reader });
      expect(read.isError, read.text).toBe(false);
      const [shown] = requestsWith(marker("read"));
      expect(shown).toContain(marker("start"));
      expect(shown).toContain("--- Turn 2 (");
      expect(shown).not.toContain("--- Turn 3 (");
      expect(shown).not.toContain(marker("fault"));
      expect(read.json?.continuation_offer.remaining_turns).toBe(46);
      task.meta.observed = {
        target: c.target.name,
        fault: c.row.fault,
        kind: c.row.kind,
        message: continued.text,
        upstreamRequests: c.row.upstreamRequests,
        breaker: c.row.countsAgainstBreaker ? "counted: the next call failed fast" : "not counted: the next call went through",
        thread: "intact: turns 1-2 only",
      };
    } finally {
      await client.close().catch(() => undefined);
    }
  });
});

describe("fault matrix: the server itself", () => {
  it("never answered /mcp with a 5xx, and logged no unexpected exception", ({ task }) => {
    expect(mcpStatuses.length).toBeGreaterThan(CASES.length * 5);
    const serverErrors = mcpStatuses.filter((status) => status >= 500);
    expect(serverErrors).toEqual([]);
    expect(worker.output()).not.toMatch(/failed unexpectedly|Unexpected server error|Uncaught|"stack"/);
    task.meta.observed = { mcpResponses: mcpStatuses.length, serverErrors: serverErrors.length };
  });
});
