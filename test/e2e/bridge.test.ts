/**
 * End to end through the bridge: an MCP client speaks stdio to `bin/zen-mcp-worker.js bridge`,
 * which uploads the local files named in tool calls to the real worker under `wrangler dev` and
 * forwards the call; the fake upstream records what the model was sent.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeUpstream, type RecordedRequest } from "../fake-upstream/server.ts";
import { startWorker, type WorkerProcess } from "../support/worker-process.ts";

const BIN = resolve(import.meta.dirname, "../../bin/zen-mcp-worker.js");
const TOKEN = "bridge-test-token";
const WORKSPACE = "bridge-e2e";
const MIB = 1024 * 1024;

let upstream: FakeUpstream;
let worker: WorkerProcess;
let root: string;
const clients: Client[] = [];

interface Bridge {
  client: Client;
  /** Everything the bridge wrote to stderr so far. */
  stderr(): string;
}

async function startBridge(env: Record<string, string>, cwd: string): Promise<Bridge> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, "bridge", "--url", worker.mcpUrl, "--workspace", WORKSPACE],
    env: { ...getDefaultEnvironment(), ...env },
    cwd,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: "bridge-e2e", version: "1.0.0" });
  await client.connect(transport);
  clients.push(client);
  return { client, stderr: () => stderr };
}

/** The bridge prints one summary line per upload; wait for the `n`-th (stderr may lag stdout). */
async function summaryLine(bridge: Bridge, n: number): Promise<string> {
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

type ToolResult = Awaited<ReturnType<Client["callTool"]>>;

function texts(result: ToolResult): string[] {
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

async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((done) => child.once("exit", done));
  return { code, stdout, stderr };
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  worker = await startWorker({
    vars: {
      GEMINI_API_KEY: "k",
      GEMINI_BASE_URL: upstream.url,
      TEAM_TOKENS: JSON.stringify({ [createHash("sha256").update(TOKEN).digest("hex")]: "bridge-team" }),
      // Small enough that one test file is refused, large enough for the multipart upload.
      MAX_BLOB_BYTES: String(70 * MIB),
      BLOB_PART_MIB: "16",
    },
  });
  root = mkdtempSync(join(tmpdir(), "zen-bridge-e2e-"));
});

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  await worker?.stop();
  await upstream?.close();
  if (root) rmSync(root, { recursive: true, force: true });
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

    const bridge = await startBridge({ ZEN_MCP_TOKEN: TOKEN }, project);
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
    const bridge = await startBridge({ ZEN_MCP_TOKEN: TOKEN }, cwd);
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
  });

  it("push uploads and registers ahead of time; a plain HTTP client then resolves the paths", async () => {
    const docs = join(root, "pushed");
    write(join(docs, "a.md"), "# Pushed A\n");
    write(join(docs, "sub", "b.ts"), "export const pushed = 'B';\n");
    // An empty file has no body to PUT: it goes through an upload session with no parts.
    write(join(docs, "empty.txt"), "");
    const env = { ZEN_MCP_TOKEN: TOKEN, ZEN_MCP_URL: worker.mcpUrl };

    const first = await runCli(["push", docs, "--workspace", WORKSPACE], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^Pushed 3 files to workspace 'bridge-e2e'/);
    expect(uploadedBytes(first.stderr.split("\n").find((line) => line.startsWith("zen-bridge: uploaded")) ?? "")).toBe(
      Buffer.byteLength("# Pushed A\n") + Buffer.byteLength("export const pushed = 'B';\n"),
    );
    const again = await runCli(["push", docs, "--workspace", WORKSPACE], env);
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
    clients.push(client);
    upstream.clearRequests();
    const result = await client.callTool({ name: "chat", arguments: { prompt: "What was pushed?", model: "flash", absolute_file_paths: [docs] } });
    expect(result.isError, texts(result).join("\n")).toBeFalsy();
    const sent = JSON.stringify(geminiRequests().at(-1)?.body);
    expect(sent).toContain("   1│ # Pushed A");
    expect(sent).toContain("   1│ export const pushed = 'B';");

    const missing = await runCli(["push", join(root, "does-not-exist"), "--workspace", WORKSPACE], env);
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
    const bridge = await startBridge({ ZEN_MCP_TOKEN: TOKEN }, big);
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
    const bridge = await startBridge({ ZEN_MCP_TOKEN: TOKEN }, root);
    upstream.fault({ kind: "gemini", hang: true });
    const controller = new AbortController();
    const call = bridge.client.callTool({ name: "chat", arguments: { prompt: "Take your time", model: "flash" } }, undefined, {
      signal: controller.signal,
    });
    await until(() => upstream.inFlight() === 1, "the upstream call to start");
    controller.abort();
    await expect(call).rejects.toThrow();
    // The worker notices the hang-up when its next progress heartbeat fails to send (~10 s under wrangler dev).
    await until(() => upstream.inFlight() === 0, "the upstream call to be released", 30_000);
    // The bridge goes on serving.
    expect((await bridge.client.listTools()).tools.length).toBeGreaterThan(0);
  });

  it("turns a refused token into an isError result and keeps running", async () => {
    const cwd = join(root, "badtoken");
    const file = write(join(cwd, "x.py"), "print('x')\n");
    const bridge = await startBridge({ ZEN_MCP_TOKEN: "not-a-valid-token" }, cwd);
    for (let i = 0; i < 2; i++) {
      const result = await bridge.client.callTool({ name: "chat", arguments: { prompt: "hi", model: "flash", absolute_file_paths: [file] } });
      expect(result.isError).toBe(true);
      expect(texts(result).join("\n")).toContain("401");
      expect(texts(result).join("\n")).toContain("The bearer token is not valid for this server.");
    }
    expect(bridge.stderr()).not.toContain("zen-bridge: uploaded ");
  });
});
