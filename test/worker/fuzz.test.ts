/**
 * Fuzzing inside workerd with fast-check: tool arguments from every tool's advertised schema and
 * beyond it, hostile JSON-RPC bodies, and bad headers on every route. Every answer must be a
 * well-formed JSON-RPC response or a documented HTTP error (4xx with JSON {error, message}):
 * never a 5xx, never an unexpected exception, never a hang (each request is bounded).
 *
 * Runs per property: FUZZ_RUNS (vitest.config.ts passes it in; 300 by default).
 * The full run: `FUZZ_RUNS=10000 npx vitest run test/worker/fuzz.test.ts`.
 * Model calls are answered by the in-isolate upstream mock: nothing leaves the isolate.
 */
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import type { Env } from "../../src/core/env.ts";
import "../support/observed.ts";
import { callWorker, mcpPost, testEnv } from "./helpers";
import { anyJson, headerValue, hostileRpcBody, hostileString, mutatedArguments } from "./fuzz-arbitraries";
import { mockUpstream, type SentRequest } from "./upstream-mock";

declare module "vitest" {
  interface ProvidedContext {
    fuzzRuns: number;
  }
}

const RUNS = inject("fuzzRuns");
/** A request still unanswered after this long is a hang (a bound, not a timing expectation). */
const BOUND_MS = 20_000;
const TOKEN = "fuzz-team-token";
/** A property's own time allowance grows with its runs (vitest's default is for a single test). */
const PROPERTY = { timeout: 60_000 + RUNS * 60 };

const PROVIDERS = {
  GEMINI_API_KEY: "fuzz-gemini-key",
  GEMINI_BASE_URL: "https://gemini.test",
  OPENAI_API_KEY: "fuzz-openai-key",
  OPENAI_BASE_URL: "https://openai.test/v1",
  PROVIDER_MAX_ATTEMPTS: "1",
  MAX_REQUEST_BODY_BYTES: String(1024 * 1024),
  BLOB_PART_MIB: "5",
  // The fuzzer checks how inputs are handled, not throughput: thousands of requests a minute
  // would otherwise meet the rate limits (tested in auth.test.ts).
  RATE_LIMIT_PER_MINUTE: "0",
  RATE_LIMIT_PER_TOKEN_PER_MINUTE: "0",
  RATE_LIMIT_REQUESTS_PER_MINUTE: "0",
  RATE_LIMIT_PER_ADDRESS_PER_MINUTE: "0",
};

async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

/** The worker's answer, read whole, or a failure when it does not come within BOUND_MS. */
async function bounded(request: Request, workerEnv: Env): Promise<Answer> {
  const what = `${request.method} ${new URL(request.url).pathname}`;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer to ${what} within ${BOUND_MS} ms`)), BOUND_MS);
  });
  const work = (async () => {
    const response = await callWorker(request, workerEnv);
    return { status: response.status, contentType: response.headers.get("content-type") ?? "", text: await response.text() };
  })();
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A JSON-RPC response: version 2.0, and a result or an error with a numeric code and a message. */
function isRpcResponse(value: unknown): boolean {
  if (!isRecord(value) || value["jsonrpc"] !== "2.0" || !("id" in value)) return false;
  if ("result" in value) return !("error" in value);
  const error = value["error"];
  return isRecord(error) && typeof error["code"] === "number" && typeof error["message"] === "string";
}

/** The JSON-RPC messages of an answer (SSE or JSON); throws when the body is neither. */
function rpcMessagesOf(answer: Answer): unknown[] {
  if (answer.contentType.includes("text/event-stream")) {
    return answer.text
      .split("\n")
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).trim())
      .filter((data) => data !== "")
      .map((data) => JSON.parse(data) as unknown);
  }
  let json: unknown;
  try {
    json = JSON.parse(answer.text);
  } catch {
    throw new Error(`not JSON (HTTP ${answer.status}, ${answer.contentType}): ${answer.text.slice(0, 300)}`);
  }
  return Array.isArray(json) ? json : [json];
}

/** Fails unless the answer is below 500 and, when an error, a documented one. */
function expectDocumented(answer: Answer, what: string, method = "GET"): void {
  expect(answer.status, `${what}: ${answer.text.slice(0, 300)}`).toBeLessThan(500);
  expect(answer.text, what).not.toMatch(/\n\s+at .*:\d+:\d+/);
  if (answer.status < 400 || method === "HEAD") return;
  let body: unknown;
  expect(() => (body = JSON.parse(answer.text)), `${what}: a ${answer.status} that is not JSON: ${answer.text.slice(0, 200)}`).not.toThrow();
  const httpError = isRecord(body) && typeof body["error"] === "string" && typeof body["message"] === "string" && body["message"] !== "";
  expect(httpError || isRpcResponse(body), `${what}: ${answer.status} ${answer.text.slice(0, 300)}`).toBe(true);
}

/** Runs a property, and records on the test what was run. */
async function check<T>(
  task: { meta: { observed?: Record<string, string | number | boolean> } },
  arbitrary: fc.Arbitrary<T>,
  predicate: (value: T) => Promise<void>,
  extra: () => Record<string, string | number> = () => ({}),
) {
  const details = await fc.check(fc.asyncProperty(arbitrary, predicate), { numRuns: RUNS });
  if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? "property failed");
  task.meta.observed = { runs: details.numRuns, seed: details.seed, failures: 0, ...extra() };
}

let unexpected: string[] = [];
/** The model calls the worker made (answered by the mock). */
let sent: SentRequest[] = [];

beforeEach(() => {
  unexpected = [];
  sent = mockUpstream(() => "fuzzed answer");
  // Anything logged as an error is an exception the worker did not expect.
  vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
    unexpected.push(args.map(String).join(" "));
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  expect(unexpected).toEqual([]);
});

describe("fuzz: tools/call", () => {
  it("every tool, with arguments from its advertised schema and mutated beyond it, answers a JSON-RPC result", PROPERTY, async ({ task }) => {
    const workerEnv = testEnv(PROVIDERS);
    const listed = rpcMessagesOf(await bounded(mcpPost({ jsonrpc: "2.0", id: 1, method: "tools/list" }), workerEnv))[0] as {
      result: { tools: Array<{ name: string; inputSchema: Record<string, unknown> }> };
    };
    const tools = listed.result.tools;
    expect(tools.length).toBeGreaterThanOrEqual(18);
    const perTool = new Map<string, number>();
    const outcomes = { results: 0, isError: 0, rpcErrors: 0 };
    const call = fc.constantFrom(...tools).chain((tool) => mutatedArguments(tool.inputSchema).map((args) => ({ tool: tool.name, args })));
    await check(
      task,
      fc.tuple(call, fc.integer({ min: 1, max: 1_000_000 })),
      async ([{ tool, args }, id]) => {
        perTool.set(tool, (perTool.get(tool) ?? 0) + 1);
        const answer = await bounded(mcpPost({ jsonrpc: "2.0", id, method: "tools/call", params: { name: tool, arguments: args } }), workerEnv);
        const what = `tools/call ${tool} ${JSON.stringify(args).slice(0, 300)}`;
        expectDocumented(answer, what, "POST");
        expect(answer.status, what).toBe(200);
        const messages = rpcMessagesOf(answer);
        const response = messages.find((message) => isRecord(message) && message["id"] === id);
        expect(isRpcResponse(response), `${what}: ${answer.text.slice(0, 300)}`).toBe(true);
        const result = (response as { result?: { isError?: boolean; content: Array<{ type: string; text: string }> } }).result;
        if (!result) outcomes.rpcErrors++;
        else if (result.isError) outcomes.isError++;
        else outcomes.results++;
        if (result) {
          expect(result.content[0]?.type, what).toBe("text");
          expect(result.content[0]?.text, what).not.toContain("failed unexpectedly");
        }
      },
      () => ({ tools: tools.length, toolsCalled: perTool.size, ...outcomes, modelCalls: sent.length }),
    );
    expect([...perTool.keys()].length, "every tool was called").toBe(RUNS >= 200 ? tools.length : perTool.size);
  });
});

describe("fuzz: JSON-RPC bodies", () => {
  it("malformed, truncated, batched and oversized bodies get a JSON-RPC error or a documented HTTP error", PROPERTY, async ({ task }) => {
    const workerEnv = testEnv({ ...PROVIDERS, MAX_REQUEST_BODY_BYTES: "4096" });
    const body = fc.oneof(hostileRpcBody, fc.nat({ max: 20_000 }).map((n) => JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", padding: "x".repeat(n) })));
    await check(task, body, async (text) => {
      const answer = await bounded(mcpPost(text), workerEnv);
      const what = `POST /mcp ${JSON.stringify(text.slice(0, 200))}`;
      expectDocumented(answer, what, "POST");
      if (answer.status === 200) for (const message of rpcMessagesOf(answer)) expect(isRpcResponse(message), what).toBe(true);
      if (text.length > 4096) expect(answer.status, what).toBe(413);
    });
  });
});

/** Every route, with placeholders for the parts a request names. */
const ROUTES: Array<{ method: string; path: string }> = [
  { method: "POST", path: "/mcp" },
  { method: "GET", path: "/mcp" },
  { method: "DELETE", path: "/mcp" },
  { method: "GET", path: "/health" },
  { method: "GET", path: "/v1/threads?limit={n}" },
  { method: "HEAD", path: "/v1/blobs/{sha}" },
  { method: "GET", path: "/v1/blobs/{sha}" },
  { method: "PUT", path: "/v1/blobs/{sha}" },
  { method: "POST", path: "/v1/blobs/missing" },
  { method: "POST", path: "/v1/blobs/{sha}/uploads" },
  { method: "PUT", path: "/v1/blobs/{sha}/uploads/{id}/parts/{n}" },
  { method: "POST", path: "/v1/blobs/{sha}/uploads/{id}/complete" },
  { method: "PUT", path: "/v1/workspaces/{ws}/manifest" },
  { method: "PATCH", path: "/v1/blobs/{sha}" },
  { method: "GET", path: "/{junk}" },
];

/** Bodies uploaded under their own hash. */
const STORED_BODIES: Array<string | Uint8Array | undefined> = [
  undefined,
  "",
  "print('hello')\n",
  JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
  JSON.stringify({ size: 10, mediaType: "text/plain" }),
  JSON.stringify({ files: { "/repo/a.py": "a".repeat(64) } }),
  "line\n".repeat(5_000),
  new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  new Uint8Array(3_000).map((_, i) => (i * 31) % 256),
];

/** A hostile string as a URL path segment (surrogates replaced: a lone one cannot be percent-encoded). */
const pathPart = hostileString.map((text) => encodeURIComponent(text.replace(/[\ud800-\udfff]/g, "\ufffd")));

describe("fuzz: routes and headers", () => {
  const rpc = fc.constantFrom(
    JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "f", version: "1" } } }),
    JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "version", arguments: {} } }),
  );
  const bodyBytes = fc.oneof(
    rpc,
    hostileRpcBody,
    fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
    fc.record({ files: fc.dictionary(hostileString, fc.oneof(hostileString, fc.constant("a".repeat(64)))) }).map((value) => JSON.stringify(value)),
    fc.record({ size: anyJson, mediaType: anyJson }).map((value) => JSON.stringify(value)),
    fc.record({ sha256: fc.array(fc.oneof(hostileString, fc.constant("b".repeat(64))), { maxLength: 5 }) }).map((value) => JSON.stringify(value)),
    fc.uint8Array({ maxLength: 3_000 }),
  );
  const request = fc.record({
    team: fc.boolean(),
    // "stored": one of a few known bodies under its own hash, which reaches the upload paths. A few
    // only: each hash is a Durable Object, and local workerd keeps every one's database open.
    sha: fc.oneof(fc.constant("stored"), fc.constant("f".repeat(64)), pathPart),
    stored: fc.constantFrom(...STORED_BODIES),
    id: fc.oneof(fc.uuid(), pathPart),
    n: fc.oneof(fc.integer({ min: -5, max: 20_000 }).map(String), pathPart),
    ws: fc.oneof(fc.constantFrom("default", "ws-1"), pathPart),
    junk: pathPart,
    body: fc.option(bodyBytes, { nil: undefined }),
    headers: fc.record({
      "content-type": headerValue(["application/json", "application/octet-stream", "image/png", "text/plain; charset=utf-8"]),
      accept: headerValue(["application/json, text/event-stream", "application/json", "text/event-stream"]),
      "x-zen-workspace": headerValue(["default", "ws-1"]),
      authorization: headerValue([`Bearer ${TOKEN}`, "Bearer wrong", "Basic abc", "Bearer"]),
      "mcp-protocol-version": headerValue(["2025-11-25", "2025-06-18", "2024-11-05", "1999-01-01"]),
    }),
  });

  // Named by plain strings: vitest shortens the values it interpolates into test names.
  for (const route of ROUTES) {
    it(`${route.method} ${route.path}: bad headers, path parts and bodies get an answer below 500, errors documented`, PROPERTY, async ({ task }) => {
      const teamEnv = testEnv({ ...PROVIDERS, TEAM_TOKENS: JSON.stringify({ [await sha256Hex(TOKEN)]: "fuzz-team" }) });
      const openEnv = testEnv(PROVIDERS);
      const statuses = new Map<number, number>();
      await check(
        task,
        request,
        async (r) => {
          const body = r.sha === "stored" ? r.stored : r.body;
          const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
          const sha = r.sha === "stored" ? await sha256Hex(bytes ?? new Uint8Array()) : r.sha;
          const path = route.path.replace("{sha}", sha).replace("{id}", r.id).replace("{n}", r.n).replace("{ws}", r.ws).replace("{junk}", r.junk);
          const headers = new Headers();
          for (const [name, value] of Object.entries(r.headers)) if (value !== undefined) headers.set(name, value);
          const withBody = !["GET", "HEAD"].includes(route.method) && bytes !== undefined;
          const what = `${route.method} ${path} ${JSON.stringify(r.headers)} body=${bytes?.length ?? "none"}`;
          const answer = await bounded(
            new Request(`http://localhost${path}`, { method: route.method, headers, ...(withBody ? { body: bytes } : {}) }),
            r.team ? teamEnv : openEnv,
          );
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          expectDocumented(answer, what, route.method);
        },
        () => ({ statuses: [...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`).join(" ") }),
      );
    });
  }
});
