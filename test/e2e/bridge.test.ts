/**
 * End to end through the bridge: an MCP client speaks stdio to `bin/zen-mcp-worker.js bridge`,
 * which uploads the local files named in tool calls to the real worker under `wrangler dev` and
 * forwards the call; the fake upstream records what the model was sent. Assistants of both
 * protocol eras (SDK v2 pinned to 2026-07-28, SDK v1 with the 2025 handshake) drive it, and a
 * recording proxy shows which era the bridge itself speaks to the server.
 */
import { createHash } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import { mkdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client as ModernClient } from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { FakeUpstream, RecordedRequest } from "../fake-upstream/server.ts";
import { runCli, startBridge, startModernBridge, type BridgeProcess } from "../support/bridge-process.ts";
import { freePort, type WorkerProcess } from "../support/worker-process.ts";
import { closeQuietly, e2eStack } from "../support/e2e-stack.ts";

const TOKEN = "bridge-test-token";
const WORKSPACE = "bridge-e2e";
const MIB = 1024 * 1024;

let upstream: FakeUpstream;
let worker: WorkerProcess;
let root: string;

/** The bridge in `cwd` behind a 2025-era assistant (the v1 SDK client), talking to `url`. */
async function bridgeIn(cwd: string, env: Record<string, string>, url = worker.mcpUrl): Promise<BridgeProcess> {
  const bridge = await startBridge({ args: ["--url", url, "--workspace", WORKSPACE], cwd, env });
  stack.add(bridge.client, closeQuietly);
  return bridge;
}

/** The bridge in `cwd` behind a 2026-07-28 assistant (the v2 SDK client, pinned), talking to `url`. */
async function modernBridgeIn(cwd: string, url = worker.mcpUrl): Promise<BridgeProcess<ModernClient>> {
  const bridge = await startModernBridge({ args: ["--url", url, "--workspace", WORKSPACE], cwd, env: { ZEN_MCP_TOKEN: TOKEN } });
  stack.add(bridge.client, closeQuietly);
  return bridge;
}

/** The bridge prints one summary line per upload; wait for the `n`-th (stderr may lag stdout). */
async function summaryLine(bridge: BridgeProcess<unknown>, n: number): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const lines = bridge.stderr().split("\n").filter((line) => line.startsWith("zen-bridge: uploaded "));
    if (lines.length >= n) return lines[n - 1] ?? "";
    await sleep(50);
  }
  throw new Error(`no upload summary #${n} on the bridge's stderr:\n${bridge.stderr()}`);
}

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function uploadedBytes(line: string): number {
  return Number(/^zen-bridge: uploaded (\d+) bytes/.exec(line)?.[1] ?? NaN);
}

/** A tool result as either SDK returns it (v1's type also allows a pre-2024 `toolResult`). */
interface ToolAnswer {
  [key: string]: unknown;
  content?: unknown;
  structuredContent?: unknown;
  isError?: unknown;
}

/** A progress notification as either SDK reports it. */
interface ProgressStep {
  progress: number;
  message?: string;
}

function texts(result: ToolAnswer): string[] {
  return (result.content as Array<{ type: string; text?: string }>).map((item) => item.text ?? "");
}

function geminiRequests(): RecordedRequest[] {
  return upstream.requests().filter((request) => request.kind === "gemini");
}

function write(path: string, content: string): string {
  mkdirSync(resolve(path, ".."), { recursive: true });
  writeFileSync(path, content);
  return path;
}

/** Listens on loopback (any free port by default); the server's origin. */
async function listen(server: Server, port = 0): Promise<string> {
  await new Promise<void>((listening) => server.listen(port, "127.0.0.1", listening));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === "object" && address ? address.port : port}`;
}

/** Stops an HTTP server now: the bridges still running keep connections open (an SSE GET on the 2025 handshake). */
function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((done) => server.close(() => done()));
  server.closeAllConnections();
  return closed;
}

/** One MCP request as it went over the wire, and the status it was answered with. */
interface WireRequest {
  method: string;
  /** The `mcp-protocol-version` header. */
  versionHeader: string | undefined;
  /** The `mcp-method` header (2026-07-28 only). */
  methodHeader: string | undefined;
  /** The protocol version claimed in the body's per-request `_meta` envelope (2026-07-28 only). */
  envelopeVersion: unknown;
  status: number;
}

interface RecordingProxy {
  /** The proxy's MCP URL: give it to the bridge instead of the server's. */
  mcpUrl: string;
  /** The MCP requests that passed through since the last clear. */
  mcpRequests(): WireRequest[];
  clear(): void;
  close(): Promise<void>;
}

/**
 * A loopback HTTP proxy in front of an MCP server (`target`, its MCP URL) that forwards
 * everything (MCP, uploads) and records the MCP requests: what the bridge really sends, seen
 * from outside it.
 */
async function startRecordingProxy(target: URL, port = 0): Promise<RecordingProxy> {
  let recorded: WireRequest[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    const body = new Promise<string>((done) => incoming.once("end", () => done(Buffer.concat(chunks).toString())));
    const url = new URL(incoming.url ?? "/", target);
    const forwarded = request(url, { method: incoming.method, headers: { ...incoming.headers, host: target.host } }, (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(outgoing);
      if (incoming.method !== "POST" || url.pathname !== target.pathname) return;
      void body.then((text) => {
        const message = JSON.parse(text) as { method: string; params?: { _meta?: Record<string, unknown> } };
        recorded.push({
          method: message.method,
          versionHeader: incoming.headers["mcp-protocol-version"] as string | undefined,
          methodHeader: incoming.headers["mcp-method"] as string | undefined,
          envelopeVersion: message.params?._meta?.["io.modelcontextprotocol/protocolVersion"],
          status: answer.statusCode ?? 0,
        });
      });
    });
    // The bridge hanging up (a cancelled call) hangs up on the worker too.
    outgoing.once("close", () => forwarded.destroy());
    incoming.pipe(forwarded);
  });
  return {
    mcpUrl: `${await listen(server, port)}${target.pathname}`,
    mcpRequests: () => recorded,
    clear: () => (recorded = []),
    close: () => closeServer(server),
  };
}

/**
 * A server that predates 2026-07-28: the v1 SDK's stateless Streamable HTTP server, with one
 * tool that repeats its text.
 */
async function startLegacyServer(): Promise<{ mcpUrl: string; close(): Promise<void> }> {
  const http = createServer((incoming, outgoing) => {
    const mcp = new McpServer({ name: "legacy-server", version: "2025.1.0" });
    mcp.registerTool("echo", { description: "Repeats the text.", inputSchema: { text: z.string() } }, ({ text }) => ({
      content: [{ type: "text", text }],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    outgoing.once("close", () => void mcp.close());
    void mcp.connect(transport).then(() => transport.handleRequest(incoming, outgoing));
  });
  return {
    mcpUrl: `${await listen(http)}/mcp`,
    close: () => closeServer(http),
  };
}

/**
 * Cancels the call `start` makes once its model call is under way: the bridge must hang up on
 * the worker, which then releases the model call.
 */
async function cancelMidCall(start: (signal: AbortSignal) => Promise<unknown>): Promise<void> {
  upstream.fault({ kind: "gemini", hang: true });
  const controller = new AbortController();
  const call = start(controller.signal);
  await until(() => upstream.inFlight() === 1, "the upstream call to start");
  controller.abort();
  await expect(call).rejects.toThrow();
  // The worker notices the hang-up when its next progress heartbeat fails to send (~10 s under wrangler dev).
  await until(() => upstream.inFlight() === 0, "the upstream call to be released", 30_000);
}

const stack = e2eStack();

beforeAll(async () => {
  upstream = await stack.upstream();
  worker = await stack.worker({
    vars: {
      GEMINI_API_KEY: "k",
      GEMINI_BASE_URL: upstream.url,
      TEAM_TOKENS: JSON.stringify({ [createHash("sha256").update(TOKEN).digest("hex")]: "bridge-team" }),
      // Small enough that one test file is refused, large enough for the multipart upload.
      MAX_BLOB_BYTES: String(70 * MIB),
      BLOB_PART_MIB: "16",
    },
  });
  root = stack.tempDir("zen-bridge-e2e-");
});

describe("zen-mcp-worker bridge (stdio) against wrangler dev", () => {
  it("mirrors the server, uploads a file and a directory once, and the model sees them line-numbered", async () => {
    const project = join(root, "project");
    const main = write(join(project, "main.py"), "def main():\n    return helper() * 2\n");
    const lib = join(project, "lib");
    write(join(lib, "helper.py"), "def helper():\n    return 21\n");
    write(join(lib, "config.json"), '{ "answer": 42 }\n');
    write(join(lib, "node_modules", "dep", "index.js"), "module.exports = 'SHOULD-NOT-BE-SENT';\n");
    write(join(lib, ".secret", "key.txt"), "HIDDEN-SHOULD-NOT-BE-SENT\n");
    write(join(lib, "logo.bin"), "binary-ish, not a code extension\n");

    const bridge = await bridgeIn(project, { ZEN_MCP_TOKEN: TOKEN });
    expect(bridge.client.getServerVersion()?.name).toBe("zen-mcp-worker");
    expect(bridge.client.getInstructions()).toContain("continuation_id");
    const { tools } = await bridge.client.listTools();
    expect(tools.map((tool) => tool.name)).toContain("chat");
    await bridge.client.ping();

    upstream.clearRequests();
    const progress: string[] = [];
    const args = { prompt: "Review these files", model: "flash", absolute_file_paths: [main, lib] };
    const first = await bridge.client.callTool({ name: "chat", arguments: args }, undefined, {
      onprogress: (p) => progress.push(p.message ?? ""),
    });
    expect(first.isError, texts(first).join("\n")).toBeFalsy();
    expect(JSON.parse(texts(first)[0] ?? "{}").status).toBe("continuation_available");
    expect(progress.length).toBeGreaterThan(0);

    const firstLine = await summaryLine(bridge, 1);
    expect(firstLine).toContain("3 registered");
    expect(uploadedBytes(firstLine)).toBeGreaterThan(0);

    const sent = JSON.stringify(geminiRequests().at(-1)?.body);
    expect(sent).toContain(`--- BEGIN FILE: ${main}`);
    expect(sent).toContain("   1│ def main():");
    expect(sent).toContain(`--- BEGIN FILE: ${join(lib, "helper.py")}`);
    expect(sent).toContain("   2│     return 21");
    expect(sent).toContain('   1│ { \\"answer\\": 42 }');
    expect(sent).not.toContain("SHOULD-NOT-BE-SENT");

    // Same files again: hashes come from the cache, the server has every blob, nothing is sent.
    upstream.clearRequests();
    const second = await bridge.client.callTool({ name: "chat", arguments: args });
    expect(second.isError, texts(second).join("\n")).toBeFalsy();
    const secondLine = await summaryLine(bridge, 2);
    expect(uploadedBytes(secondLine)).toBe(0);
    expect(secondLine).toContain("3 files present");
    expect(JSON.stringify(geminiRequests().at(-1)?.body)).toContain("   1│ def main():");

    // An edited file is uploaded again (and only that one).
    write(main, "def main():\n    return helper() * 3\n");
    const third = await bridge.client.callTool({ name: "chat", arguments: args });
    expect(third.isError).toBeFalsy();
    const thirdLine = await summaryLine(bridge, 3);
    expect(thirdLine).toContain("1 file uploaded");
    expect(uploadedBytes(thirdLine)).toBe(Buffer.byteLength("def main():\n    return helper() * 3\n"));
    expect(JSON.stringify(geminiRequests().at(-1)?.body)).toContain("   2│     return helper() * 3");
  });

  it("writes generated_code to zen_generated.code in its working directory", async () => {
    const cwd = join(root, "codegen");
    mkdirSync(cwd, { recursive: true });
    const bridge = await bridgeIn(cwd, { ZEN_MCP_TOKEN: TOKEN });
    const code = "<NEWFILE: calc.py>\ndef add(a, b):\n    return a + b\n</NEWFILE>";
    const text = `Here is the module.\n<GENERATED-CODE>\n${code}\n</GENERATED-CODE>`;
    const response = {
      candidates: [{ content: { role: "model", parts: [{ text }] }, finishReason: "STOP", index: 0 }],
      usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 10, totalTokenCount: 20 },
      modelVersion: "gemini-2.5-flash",
    };
    // The worker streams when it can report progress: look at how it asks, then answer in that shape.
    upstream.clearRequests();
    await bridge.client.callTool({ name: "chat", arguments: { prompt: "How do you ask?", model: "flash" } });
    const streams = geminiRequests().at(-1)?.stream ?? false;
    upstream.fault({ kind: "gemini", status: 200, body: streams ? `data: ${JSON.stringify(response)}\n\n` : JSON.stringify(response) });

    const result = await bridge.client.callTool({ name: "chat", arguments: { prompt: "Write calc.py", model: "flash" } });
    expect(result.isError, texts(result).join("\n")).toBeFalsy();
    const target = join(cwd, "zen_generated.code");
    expect(readFileSync(target, "utf8")).toBe(`${code}\n`);
    expect(JSON.parse(texts(result)[0] ?? "{}").generated_code).toBe(code);
    expect(texts(result).at(-1)).toContain(target);
    // The note is a text item of its own: the structured content is still the server's JSON.
    expect(result.structuredContent).toEqual(JSON.parse(texts(result)[0] ?? "null"));
  });

  it("push uploads and registers ahead of time; a plain HTTP client then resolves the paths", async () => {
    const docs = join(root, "pushed");
    write(join(docs, "a.md"), "# Pushed A\n");
    write(join(docs, "sub", "b.ts"), "export const pushed = 'B';\n");
    // An empty file has no body to PUT: it goes through an upload session with no parts.
    write(join(docs, "empty.txt"), "");
    const env = { ZEN_MCP_TOKEN: TOKEN, ZEN_MCP_URL: worker.mcpUrl };

    const first = await runCli(["push", docs, "--workspace", WORKSPACE], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^Pushed 3 files to workspace 'bridge-e2e'/);
    expect(uploadedBytes(first.stderr.split("\n").find((line) => line.startsWith("zen-bridge: uploaded")) ?? "")).toBe(
      Buffer.byteLength("# Pushed A\n") + Buffer.byteLength("export const pushed = 'B';\n"),
    );
    const again = await runCli(["push", docs, "--workspace", WORKSPACE], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("0 B uploaded (0 files)");
    expect(again.stdout).toContain("skipped as already present (3 files)");

    // No bridge: the workspace header alone lets the server find the pushed directory's files.
    const client = new Client({ name: "push-check", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(worker.mcpUrl), {
        requestInit: { headers: { authorization: `Bearer ${TOKEN}`, "x-zen-workspace": WORKSPACE } },
      }),
    );
    stack.add(client, closeQuietly);
    upstream.clearRequests();
    const result = await client.callTool({ name: "chat", arguments: { prompt: "What was pushed?", model: "flash", absolute_file_paths: [docs] } });
    expect(result.isError, texts(result).join("\n")).toBeFalsy();
    const sent = JSON.stringify(geminiRequests().at(-1)?.body);
    expect(sent).toContain("   1│ # Pushed A");
    expect(sent).toContain("   1│ export const pushed = 'B';");

    const missing = await runCli(["push", join(root, "does-not-exist"), "--workspace", WORKSPACE], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("does not exist");
  });

  it("uploads a file over 64 MiB in parts, and reports a file over the server's limit as a tool error", async () => {
    const big = join(root, "big");
    mkdirSync(big, { recursive: true });
    // Sparse files: nothing is written, reading gives zeros; the bridge still hashes and streams every byte.
    const multipart = join(big, "dump.bin");
    writeFileSync(multipart, "");
    truncateSync(multipart, 65 * MIB);
    const bridge = await bridgeIn(big, { ZEN_MCP_TOKEN: TOKEN });
    const result = await bridge.client.callTool({ name: "chat", arguments: { prompt: "Look", model: "flash", absolute_file_paths: [multipart] } });
    expect(result.isError, texts(result).join("\n")).toBeFalsy();
    expect(uploadedBytes(await summaryLine(bridge, 1))).toBe(65 * MIB);

    const tooLarge = join(big, "huge.bin");
    writeFileSync(tooLarge, "");
    truncateSync(tooLarge, 71 * MIB);
    const refused = await bridge.client.callTool({ name: "chat", arguments: { prompt: "Look", model: "flash", absolute_file_paths: [tooLarge] } });
    expect(refused.isError).toBe(true);
    expect(texts(refused).join("\n")).toMatch(/huge\.bin failed \(HTTP 413\): \S/);
    // Still serving.
    expect((await bridge.client.listTools()).tools.length).toBeGreaterThan(0);
  });

  it("cancelling a call in the assistant hangs up on the server, which stops the model call", async () => {
    const bridge = await bridgeIn(root, { ZEN_MCP_TOKEN: TOKEN });
    await cancelMidCall((signal) =>
      bridge.client.callTool({ name: "chat", arguments: { prompt: "Take your time", model: "flash" } }, undefined, { signal }),
    );
    // The bridge goes on serving.
    expect((await bridge.client.listTools()).tools.length).toBeGreaterThan(0);
  });

  it("turns a refused token into an isError result and keeps running", async () => {
    const cwd = join(root, "badtoken");
    const file = write(join(cwd, "x.py"), "print('x')\n");
    const bridge = await bridgeIn(cwd, { ZEN_MCP_TOKEN: "not-a-valid-token" });
    for (let i = 0; i < 2; i++) {
      const result = await bridge.client.callTool({ name: "chat", arguments: { prompt: "hi", model: "flash", absolute_file_paths: [file] } });
      expect(result.isError).toBe(true);
      expect(texts(result).join("\n")).toContain("401");
      expect(texts(result).join("\n")).toContain("The bearer token is not valid for this server.");
    }
    expect(bridge.stderr()).not.toContain("zen-bridge: uploaded ");
  });

  it("started while the server cannot be reached, says so on each call, and connects on the first call once it can", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/mcp`;
    const bridge = await bridgeIn(root, { ZEN_MCP_TOKEN: TOKEN }, url);
    const call = () => bridge.client.callTool({ name: "chat", arguments: { prompt: "Are you there?", model: "flash" } });
    const unreachable = await call();
    expect(unreachable.isError).toBe(true);
    expect(texts(unreachable).join("\n")).toContain(`Could not reach the server at ${url}: ECONNREFUSED`);

    const server = await startRecordingProxy(new URL(worker.mcpUrl), port);
    try {
      const answered = await call();
      expect(answered.isError, texts(answered).join("\n")).toBeFalsy();
      expect(answered.structuredContent).toMatchObject({ status: "continuation_available" });
    } finally {
      await server.close();
    }
  });
});

describe("both protocol eras through the bridge", () => {
  let proxy: RecordingProxy;

  const proxies = e2eStack();

  beforeAll(async () => {
    proxy = await proxies.start(startRecordingProxy(new URL(worker.mcpUrl)), (started) => started.close());
  });

  /** What an assistant's client offers, whichever SDK it is. */
  interface AssistantClient {
    getServerVersion(): { name: string } | undefined;
    getInstructions(): string | undefined;
    listTools(): Promise<{ tools: Array<{ name: string; outputSchema?: unknown }> }>;
    listPrompts(): Promise<{ prompts: Array<{ name: string }> }>;
    getPrompt(params: { name: string }): Promise<{ messages: unknown[] }>;
  }

  /**
   * What an assistant of either era gets through a bridge started on the proxy: the server it
   * knows, its prompts, the tools with their output schema, and a chat call naming a file the
   * bridge uploads, with progress and the server's structured content; while every request the
   * bridge itself sent was on 2026-07-28.
   */
  async function expectChatThroughBridge(
    client: AssistantClient,
    chat: (args: Record<string, unknown>, onprogress: (step: ProgressStep) => void) => Promise<ToolAnswer>,
    file: string,
  ): Promise<void> {
    expect(client.getServerVersion()?.name).toBe("zen-mcp-worker");
    expect(client.getInstructions()).toContain("continuation_id");
    expect((await client.listPrompts()).prompts.map((prompt) => prompt.name)).toContain("continue");
    expect(JSON.stringify((await client.getPrompt({ name: "continue" })).messages)).toContain("continuation_id");
    const { tools } = await client.listTools();
    expect(tools.find((tool) => tool.name === "chat")?.outputSchema).toEqual({ type: "object", required: ["status"] });

    upstream.clearRequests();
    const progress: ProgressStep[] = [];
    const result = await chat({ prompt: "Review it", model: "flash", absolute_file_paths: [file] }, (step) => progress.push(step));
    expect(result.isError, texts(result).join("\n")).toBeFalsy();
    // The server's structured content, unchanged: the same JSON as its text.
    expect(result.structuredContent).toEqual(JSON.parse(texts(result)[0] ?? "null"));
    expect(result.structuredContent).toMatchObject({ status: "continuation_available" });
    expect(JSON.stringify(geminiRequests().at(-1)?.body)).toContain(readFileSync(file, "utf8").trim());
    // The upload's steps, then the server's own (they end with the seconds elapsed), as one increasing sequence.
    const uploading = progress.map((step) => step.message?.startsWith("Uploading files to the server") ?? false);
    expect(uploading[0], JSON.stringify(progress)).toBe(true);
    expect(uploading.indexOf(false)).toBeGreaterThan(uploading.lastIndexOf(true));
    expect(progress.at(-1)?.message).toMatch(/\(\d+ s\)$/);
    progress.slice(1).forEach((step, i) => expect(step.progress).toBeGreaterThan(progress[i]?.progress ?? Infinity));

    // Discovered, enveloped, never a handshake, and answered.
    const sent = proxy.mcpRequests();
    expect(sent.map((request) => request.method)).toEqual(expect.arrayContaining(["server/discover", "tools/call"]));
    for (const request of sent) {
      expect(request, request.method).toEqual({ method: request.method, versionHeader: "2026-07-28", methodHeader: request.method, envelopeVersion: "2026-07-28", status: 200 });
    }
  }

  it("an assistant on 2026-07-28 (SDK v2, pinned) lists prompts and tools and calls chat with a file: progress and structured content arrive", async () => {
    const file = write(join(root, "era-2026", "modern.py"), "print('sent by a 2026-07-28 assistant')\n");
    proxy.clear();
    const { client } = await modernBridgeIn(dirname(file), proxy.mcpUrl);
    expect(client.getNegotiatedProtocolVersion()).toBe("2026-07-28");
    await expectChatThroughBridge(client, (args, onprogress) => client.callTool({ name: "chat", arguments: args }, { onprogress }), file);
  });

  it("a 2025-era assistant (SDK v1, initialize handshake) does the same through a bridge that still speaks 2026-07-28 to the worker", async () => {
    const file = write(join(root, "era-2025", "legacy.py"), "print('sent by a 2025-era assistant')\n");
    proxy.clear();
    const { client } = await bridgeIn(dirname(file), { ZEN_MCP_TOKEN: TOKEN }, proxy.mcpUrl);
    await expectChatThroughBridge(client, (args, onprogress) => client.callTool({ name: "chat", arguments: args }, undefined, { onprogress }), file);
  });

  it("an assistant on 2026-07-28 cancelling a call hangs up on the server too", async () => {
    const bridge = await modernBridgeIn(root);
    await cancelMidCall((signal) => bridge.client.callTool({ name: "chat", arguments: { prompt: "Take your time", model: "flash" } }, { signal }));
    expect((await bridge.client.listTools()).tools.length).toBeGreaterThan(0);
  });

  it("against a server that predates 2026-07-28 it falls back to the initialize handshake; a 2026-07-28 assistant still gets its answers", async () => {
    const legacy = await startLegacyServer();
    const proxied = await startRecordingProxy(new URL(legacy.mcpUrl));
    try {
      const bridge = await modernBridgeIn(root, proxied.mcpUrl);
      expect(bridge.client.getServerVersion()).toEqual({ name: "legacy-server", version: "2025.1.0" });
      expect((await bridge.client.listTools()).tools.map((tool) => tool.name)).toEqual(["echo"]);
      const result = await bridge.client.callTool({ name: "echo", arguments: { text: "across the eras" } });
      expect(texts(result)).toEqual(["across the eras"]);

      const sent = proxied.mcpRequests();
      expect(sent.map((request) => request.method)).toEqual(expect.arrayContaining(["server/discover", "initialize", "tools/call"]));
      expect(sent.find((request) => request.method === "tools/call")).toMatchObject({ envelopeVersion: undefined, status: 200 });
    } finally {
      await proxied.close();
      await legacy.close();
    }
  });
});
