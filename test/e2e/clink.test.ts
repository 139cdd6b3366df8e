/**
 * clink end to end: an MCP client speaks stdio to `bin/zen-mcp-worker.js bridge`, which runs
 * stand-in AI CLIs (test/fixtures/clink-cli/, on the bridge's PATH, answering in each real CLI's
 * output format) and stores the exchanges in the real worker under `wrangler dev`, where `chat`
 * (against the fake upstream) continues them, and back.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client as ModernClient } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "../fake-upstream/server.ts";
import { startBridge, startModernBridge, stderrLine, type BridgeProcess } from "../support/bridge-process.ts";
import { startWorker, type WorkerProcess } from "../support/worker-process.ts";

const TOKEN = "clink-test-token";
const OTHER_TOKEN = "clink-other-team-token";
const WORKSPACE = "clink-e2e";
const STAND_INS = resolve(import.meta.dirname, "../fixtures/clink-cli");

let upstream: FakeUpstream;
let worker: WorkerProcess;
let root: string;
let bridge: BridgeProcess;
const closers: Array<{ close(): Promise<void> }> = [];

function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** The bridge's environment: the stand-ins first on PATH (then node and ps), its own config directory. */
function bridgeEnv(pidFile: string): Record<string, string> {
  return {
    ZEN_MCP_TOKEN: TOKEN,
    PATH: [STAND_INS, dirname(process.execPath), "/usr/bin", "/bin"].join(":"),
    XDG_CONFIG_HOME: join(root, "config"),
    STANDIN_PIDS: pidFile,
  };
}

interface Envelope {
  status: string;
  content: string;
  content_type: string;
  metadata: Record<string, unknown>;
  continuation_offer: { continuation_id: string; remaining_turns: number } | null;
}

interface ToolAnswer {
  [key: string]: unknown;
  content?: unknown;
  structuredContent?: unknown;
  isError?: unknown;
}

function text(result: ToolAnswer): string {
  return (result.content as Array<{ text?: string }>).map((item) => item.text ?? "").join("\n");
}

function envelope(result: ToolAnswer): Envelope {
  const parsed = JSON.parse(text(result)) as Envelope;
  expect(result.structuredContent).toEqual(parsed);
  return parsed;
}

async function clink(args: Record<string, unknown>): Promise<ToolAnswer> {
  return (await bridge.client.callTool({ name: "clink", arguments: args })) as ToolAnswer;
}

async function chat(args: Record<string, unknown>): Promise<Envelope> {
  const result = (await bridge.client.callTool({ name: "chat", arguments: { model: "flash", ...args } })) as ToolAnswer;
  expect(result.isError, text(result)).toBeFalsy();
  return envelope(result);
}

/** Whether a process runs (a zombie waiting for its parent to reap it counts as ended). */
function alive(pid: number): boolean {
  try {
    return !execFileSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" }).trim().startsWith("Z");
  } catch {
    return false; // ps exits 1: no such process
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The stand-in and its grandchild, as the hanging stand-in wrote them down. */
function standInPids(pidFile: string): number[] {
  return readFileSync(pidFile, "utf8").split(" ").map(Number);
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  worker = await startWorker({
    vars: {
      GEMINI_API_KEY: "k",
      GEMINI_BASE_URL: upstream.url,
      TEAM_TOKENS: JSON.stringify({ [digest(TOKEN)]: "clink-team", [digest(OTHER_TOKEN)]: "other-team" }),
    },
  });
  root = mkdtempSync(join(tmpdir(), "zen-clink-e2e-"));
  const definitions = join(root, "config", "zen-mcp-worker", "cli_clients");
  mkdirSync(definitions, { recursive: true });
  writeFileSync(join(definitions, "ghost.json"), JSON.stringify({ name: "ghost", command: "zen-no-such-cli", parser: "gemini-json" }));
  // A gemini that gives up soon: the timeout test needs no half-hour wait.
  writeFileSync(join(definitions, "slow.json"), JSON.stringify({ name: "slow", command: "gemini", parser: "gemini-json", timeout_seconds: 5 }));
  writeFileSync(join(definitions, "broken.json"), "{ not json");
  mkdirSync(join(root, "project"));
  bridge = await startBridge({ args: ["--url", worker.mcpUrl, "--workspace", WORKSPACE], cwd: join(root, "project"), env: bridgeEnv(join(root, "pids")) });
  closers.push(bridge.client);
});

afterAll(async () => {
  for (const client of closers) await client.close().catch(() => undefined);
  await worker?.stop();
  await upstream?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("clink through the bridge", () => {
  it("is listed beside the server's tools, with the configured CLIs; a broken definition is skipped with a warning", async () => {
    const { tools } = await bridge.client.listTools();
    const names = tools.map((tool) => tool.name);
    expect(names).toContain("chat");
    expect(names.filter((name) => name === "clink")).toHaveLength(1);
    const clinkTool = tools.find((tool) => tool.name === "clink");
    const properties = clinkTool?.inputSchema.properties as Record<string, { enum?: string[] }>;
    expect(properties["cli_name"]?.enum).toEqual(["claude", "codex", "gemini", "ghost", "slow"]);
    expect(properties["role"]?.enum).toEqual(["default", "planner", "codereviewer"]);
    expect(await stderrLine(bridge, "clink: skipped the CLI definition")).toContain("broken.json");
  });

  it.each([
    ["claude", ["--permission-mode", "dontAsk"], ["acceptEdits", "bypassPermissions", "--dangerously-skip-permissions"]],
    ["codex", ["--sandbox", "read-only"], ["--dangerously-bypass-approvals-and-sandbox", "danger-full-access", "workspace-write"]],
    ["gemini", ["--approval-mode", "default"], ["--yolo", "yolo", "auto_edit"]],
  ])("runs %s read-only and answers with its parsed answer in the envelope", async (cli, readOnly, forbidden) => {
    const file = join(root, "project", `${cli}.py`);
    writeFileSync(file, "print('hello')\n");
    const result = await clink({ prompt: `Review this, ${cli}`, cli_name: cli, role: "codereviewer", absolute_file_paths: [file] });
    expect(result.isError, text(result)).toBeFalsy();
    const answer = envelope(result);
    expect(answer.status).toBe("continuation_available");
    expect(answer.content).toContain(`${cli} stand-in answer.`);
    const args = JSON.parse(/^args: (.*)$/m.exec(answer.content)?.[1] ?? "[]") as string[];
    expect(args.join(" ")).toContain(readOnly.join(" "));
    for (const flag of forbidden) expect(args).not.toContain(flag);
    expect(answer.content).toContain("=== USER REQUEST ===");
    expect(answer.content).toContain(`=== FILE REFERENCES ===\n- ${file}`);
    expect(answer.content).toContain("Review the code named in the request");
    expect(answer.metadata).toMatchObject({ tool_name: "clink", cli_name: cli, role: "codereviewer", return_code: 0 });
    expect(answer.continuation_offer?.continuation_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("gives a clear error for a missing CLI, a non-zero exit, malformed and huge output", async () => {
    const missing = await clink({ prompt: "Hello", cli_name: "ghost" });
    expect(missing.isError).toBe(true);
    expect(envelope(missing).content).toMatch(/could not start ghost: the command 'zen-no-such-cli' was not found.*Install ghost/s);

    const failed = await clink({ prompt: "STANDIN:fail", cli_name: "claude" });
    expect(failed.isError).toBe(true);
    expect(envelope(failed).content).toContain("claude exited with code 3: claude: not signed in (stand-in failure)");

    const garbage = await clink({ prompt: "STANDIN:garbage", cli_name: "codex" });
    expect(garbage.isError).toBe(true);
    expect(envelope(garbage).content).toContain("could not read codex's output (codex-jsonl): expected Codex's JSON event lines");

    const huge = await clink({ prompt: "STANDIN:huge", cli_name: "gemini" });
    expect(huge.isError).toBe(true);
    expect(envelope(huge).content).toContain("gemini wrote more than 10485760 bytes to stdout and was stopped");
  });

  it("caps a long answer: its <SUMMARY> when it has one, else an excerpt with a note", async () => {
    const summarized = envelope(await clink({ prompt: "STANDIN:long-summary", cli_name: "gemini" }));
    expect(summarized.content).toMatch(/^The short version of gemini's long answer\./);
    expect(summarized.metadata["output_shortened_to"]).toBe("summary");
    const excerpt = envelope(await clink({ prompt: "STANDIN:long", cli_name: "codex" }));
    expect(excerpt.content).toContain("codex answered with 25000 characters");
    expect(excerpt.metadata["output_shortened_to"]).toBe("excerpt");
  });

  it("ends the whole process tree on timeout", async () => {
    const pidFile = join(root, "pids");
    rmSync(pidFile, { force: true });
    const result = await clink({ prompt: "STANDIN:hang", cli_name: "slow" });
    expect(result.isError).toBe(true);
    expect(envelope(result).content).toContain("slow did not finish within 5 s and was stopped, with every process it started");
    const pids = standInPids(pidFile);
    expect(pids).toHaveLength(2);
    await until(() => !pids.some(alive), "the stand-in and its grandchild to end");
  });

  it("ends the whole process tree when the call is cancelled", async () => {
    const pidFile = join(root, "cancel-pids");
    const modern: BridgeProcess<ModernClient> = await startModernBridge({
      args: ["--url", worker.mcpUrl, "--workspace", WORKSPACE],
      cwd: join(root, "project"),
      env: bridgeEnv(pidFile),
    });
    closers.push(modern.client);
    const controller = new AbortController();
    const call = modern.client.callTool({ name: "clink", arguments: { prompt: "STANDIN:hang", cli_name: "claude" } }, { signal: controller.signal });
    await until(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").includes(" "), "the stand-in to start");
    const pids = standInPids(pidFile);
    expect(pids.every(alive)).toBe(true);
    controller.abort();
    await expect(call).rejects.toThrow();
    await until(() => !pids.some(alive), "the stand-in and its grandchild to end");
    // The bridge goes on serving.
    expect((await modern.client.listTools()).tools.some((tool) => tool.name === "clink")).toBe(true);
  });

  it("continues a clink thread in chat, and a chat thread in clink, on the server", async () => {
    const first = envelope(await clink({ prompt: "MARK-CLINK-FIRST: what does main do?", cli_name: "claude" }));
    const threadId = first.continuation_offer?.continuation_id ?? "";

    upstream.clearRequests();
    const followUp = await chat({ prompt: "MARK-CHAT-SECOND: and what would you change?", continuation_id: threadId });
    expect(followUp.continuation_offer?.continuation_id).toBe(threadId);
    const sent = JSON.stringify(upstream.requests().filter((request) => request.kind === "gemini").at(-1)?.body);
    expect(sent).toContain("MARK-CLINK-FIRST");
    expect(sent).toContain("claude stand-in answer.");
    expect(sent).toContain("claude using clink");

    // chat -> clink: the CLI is shown the thread, chat's answer included.
    upstream.fault({ kind: "gemini", replyText: "MARK-CHAT-ANSWER: the model's view" });
    const started = await chat({ prompt: "MARK-CHAT-START: is this design sound?" });
    const chatThread = started.continuation_offer?.continuation_id ?? "";
    const continued = envelope(await clink({ prompt: "MARK-CLINK-THIRD: do you agree?", cli_name: "gemini", continuation_id: chatThread }));
    expect(continued.continuation_offer?.continuation_id).toBe(chatThread);
    expect(continued.content).toContain("=== CONVERSATION HISTORY");
    expect(continued.content).toContain("MARK-CHAT-START");
    expect(continued.content).toContain("MARK-CHAT-ANSWER: the model's view");
    expect(continued.content).toContain("=== USER REQUEST ===\nMARK-CLINK-THIRD");

    // And chat again sees clink's turn.
    upstream.clearRequests();
    await chat({ prompt: "MARK-CHAT-FOURTH: summarize", continuation_id: chatThread });
    expect(JSON.stringify(upstream.requests().filter((request) => request.kind === "gemini").at(-1)?.body)).toContain("gemini stand-in answer.");
  });

  it("refuses an unknown continuation before running the CLI", async () => {
    const result = await clink({ prompt: "Hello", cli_name: "codex", continuation_id: "00000000-0000-4000-8000-000000000000" });
    expect(result.isError).toBe(true);
    expect(envelope(result).content).toMatch(/could not continue the conversation: Reading conversation thread .* failed \(HTTP 404\)/);
  });
});

describe("the threads' REST routes", () => {
  const exchange = { tool: "clink", agent: "claude", prompt: "Hello", answer: "Hi" };

  async function post(path: string, body: unknown, token = TOKEN): Promise<Response> {
    return fetch(`${worker.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  }

  it("take the team token, keep a thread to its team, and check and limit the body", async () => {
    const created = await post("/v1/threads", exchange);
    expect(created.status).toBe(201);
    const { continuation_id: id } = (await created.json()) as { continuation_id: string };

    expect((await fetch(`${worker.url}/v1/threads/${id}`)).status).toBe(401);
    const mine = await fetch(`${worker.url}/v1/threads/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(mine.status).toBe(200);
    expect(((await mine.json()) as { turns: unknown[] }).turns).toHaveLength(2);
    const theirs = await fetch(`${worker.url}/v1/threads/${id}`, { headers: { authorization: `Bearer ${OTHER_TOKEN}` } });
    expect(theirs.status).toBe(404);
    expect((await post(`/v1/threads/${id}/exchanges`, exchange, OTHER_TOKEN)).status).toBe(404);

    expect((await post(`/v1/threads/${id}/exchanges`, exchange)).status).toBe(200);
    expect((await post("/v1/threads", { ...exchange, agent: "no spaces allowed" })).status).toBe(400);
    expect((await post("/v1/threads", "{ not json")).status).toBe(400);
    expect((await post("/v1/threads", { ...exchange, answer: "a".repeat(2 * 1024 * 1024) })).status).toBe(413);
  });
});
