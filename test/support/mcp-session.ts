/**
 * The official MCP SDK client against a worker under `wrangler dev`, with the fake upstream as
 * every provider: what the end-to-end tool tests share.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { beforeAll, beforeEach } from "vitest";
import type { FakeUpstream } from "../fake-upstream/server.ts";
import { e2eStack } from "./e2e-stack.ts";
import type { WorkerProcess } from "./worker-process.ts";

export interface ToolCall {
  isError: boolean;
  text: string;
  /** The text parsed as JSON, or undefined when it is not JSON. */
  json: Record<string, any> | undefined;
  progress: string[];
}

export async function connectMcp(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: "e2e", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

/** Calls a tool and parses its JSON text; progress messages are collected. */
export async function callTool(client: Client, name: string, args: Record<string, unknown>, options: { timeoutMs?: number } = {}): Promise<ToolCall> {
  const progress: string[] = [];
  const result = await client.callTool({ name, arguments: args }, undefined, {
    onprogress: (p) => progress.push(p.message ?? ""),
    resetTimeoutOnProgress: true,
    ...(options.timeoutMs ? { timeout: options.timeoutMs, maxTotalTimeout: options.timeoutMs } : {}),
  });
  const text = (result.content as Array<{ type: string; text: string }>)[0]?.text ?? "";
  let json: Record<string, any> | undefined;
  try {
    json = JSON.parse(text) as Record<string, any>;
  } catch {
    json = undefined;
  }
  return { isError: result.isError === true, text, json, progress };
}

export interface McpEnvironment {
  upstream: FakeUpstream;
  worker: WorkerProcess;
  client: Client;
  call(name: string, args: Record<string, unknown>): Promise<ToolCall>;
}

/** Every string of an upstream request body (system prompt, messages) joined by newlines: what the model was shown. */
export function textOf(body: unknown): string {
  if (typeof body === "string") return body;
  if (Array.isArray(body)) return body.map(textOf).join("\n");
  if (body !== null && typeof body === "object") return Object.values(body).map(textOf).join("\n");
  return "";
}

/**
 * One environment for a test file: the fake upstream, a worker with Gemini and OpenAI pointed at
 * it, and a connected client, started before its tests (on an e2e stack, which stops whatever
 * started in afterAll); the fake upstream is reset (faults, latency, log) before each test. The
 * object is filled in beforeAll.
 */
export function useMcpEnvironment(vars: Record<string, string> = {}): McpEnvironment {
  const stack = e2eStack();
  const environment = {} as McpEnvironment;
  beforeAll(async () => {
    const upstream = await stack.upstream();
    const worker = await stack.worker({
      vars: { GEMINI_API_KEY: "k", GEMINI_BASE_URL: upstream.url, OPENAI_API_KEY: "k", OPENAI_BASE_URL: `${upstream.url}/v1`, ...vars },
    });
    const client = await stack.client(connectMcp(worker.mcpUrl));
    Object.assign(environment, { upstream, worker, client, call: (name: string, args: Record<string, unknown>) => callTool(client, name, args) });
  });
  beforeEach(() => {
    environment.upstream.reset();
  });
  return environment;
}
