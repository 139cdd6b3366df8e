/**
 * Real MCP clients against one worker under `wrangler dev` with TEAM_TOKENS, each configured as
 * docs/clients.md says: the official SDK clients (v1 on the 2025 handshake; v2 pinned to the
 * 2026-07-28 revision and in auto mode), the MCP Inspector's CLI, mcp-remote, Claude Code's CLI
 * (over HTTP and through the bridge), Gemini CLI and Codex CLI. The CLIs run from their own
 * package folder (test/clients, installed on first use) with a fresh HOME, so nothing reads or
 * writes the machine's own client configuration.
 */
import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { beforeAll, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../fake-upstream/server.ts";
import { BIN as BRIDGE } from "../support/bridge-process.ts";
import { callTool, connectMcp } from "../support/mcp-session.ts";
import { makeTeamToken, teamTokensVar, type TeamToken } from "../support/team-token.ts";
import type { WorkerProcess } from "../support/worker-process.ts";
import { e2eStack } from "../support/e2e-stack.ts";

/** The client CLIs have their own package folder (about 1 GB, kept out of the project's install). */
const CLIENTS = resolve(import.meta.dirname, "../clients");
const NODE_MODULES = join(CLIENTS, "node_modules");
/** Longest one client command may run before it is killed (it normally takes a few seconds). */
const RUN_TIMEOUT_MS = 90_000;
/** A test that runs several client commands one after another. */
const MULTI_RUN_TEST_MS = 5 * RUN_TIMEOUT_MS;

/**
 * Installs the client CLIs on first use (.ci/run installs them ahead): `npm ci` from their own
 * lockfile, with this Node and npm.
 */
function installClients(): void {
  if (existsSync(join(NODE_MODULES, ".package-lock.json"))) return;
  const npm = join(dirname(process.execPath), "npm");
  execFileSync(existsSync(npm) ? npm : "npm", ["ci", "--no-audit", "--no-fund"], { cwd: CLIENTS, stdio: "inherit", timeout: 15 * 60_000 });
}
installClients();

/** A package's command, as its package.json names it (run with this Node, never a global install). */
function bin(pkg: string, name: string): string {
  const manifest = JSON.parse(readFileSync(join(NODE_MODULES, pkg, "package.json"), "utf8")) as { bin: Record<string, string> };
  const path = manifest.bin[name];
  if (path === undefined) throw new Error(`${pkg} has no '${name}' command`);
  return join(NODE_MODULES, pkg, path);
}

const INSPECTOR = bin("@modelcontextprotocol/inspector", "mcp-inspector");
const MCP_REMOTE = bin("mcp-remote", "mcp-remote");
const GEMINI = bin("@google/gemini-cli", "gemini");
const CODEX = bin("@openai/codex", "codex");
// The package's own launcher for its native binary: works whether or not its postinstall (which
// copies the binary over bin/claude.exe) was allowed to run.
const CLAUDE = join(NODE_MODULES, "@anthropic-ai/claude-code/cli-wrapper.cjs");

let worker: WorkerProcess;
let upstream: FakeUpstream;
let team: TeamToken;

const stack = e2eStack();

beforeAll(async () => {
  team = makeTeamToken("client-setup");
  upstream = await stack.upstream();
  worker = await stack.worker({
    vars: { TEAM_TOKENS: teamTokensVar(team), GEMINI_API_KEY: "test-key", GEMINI_BASE_URL: upstream.url, OPENAI_API_KEY: "test-key", OPENAI_BASE_URL: `${upstream.url}/v1` },
  });
});

interface Sandbox {
  home: string;
  /** The directory the client runs in, as a person's project. */
  project: string;
  env: Record<string, string>;
}

/** A fresh home for one client: its configuration, caches and logs land here. */
function sandbox(extraEnv: Record<string, string> = {}): Sandbox {
  const home = stack.tempDir("zen-client-");
  const project = join(home, "project");
  mkdirSync(project);
  const env: Record<string, string> = {
    PATH: `${dirname(process.execPath)}:${process.env["PATH"] ?? ""}`,
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_DATA_HOME: join(home, ".local/share"),
    LANG: "C.UTF-8",
    NO_COLOR: "1",
    ...extraEnv,
  };
  return { home, project, env };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a client's Node entry point to its end, killed (with whatever it started) after RUN_TIMEOUT_MS. */
function run(script: string, args: string[], where: Sandbox, env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: where.project,
    env: { ...where.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    } catch {
      // the process group is already gone
    }
  }, RUN_TIMEOUT_MS);
  return new Promise((done) => {
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      done({ code, stdout, stderr: signal ? `${stderr}\n(killed by ${signal})` : stderr });
    });
  });
}

/** The text of the `version` tool's answer, which names the team the token belongs to. */
function versionContent(text: string): string {
  const envelope = JSON.parse(text) as { content?: unknown };
  if (typeof envelope.content !== "string") throw new Error(`unexpected version reply: ${text}`);
  return envelope.content;
}

describe("the official MCP SDK client", () => {
  it("connects over Streamable HTTP with a team token, lists the tools and calls version", async () => {
    const client = await connectMcp(worker.mcpUrl, { authorization: `Bearer ${team.token}` });
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(["chat", "consensus", "version"]));
    const version = await callTool(client, "version", {});
    expect(version.isError).toBe(false);
    expect(versionContent(version.text)).toContain(`Team: ${team.team}`);
    await client.close();

    await expect(connectMcp(worker.mcpUrl, { authorization: "Bearer not-a-team-token" })).rejects.toThrow(/bearer token is not valid/);
  });
});

const LOCK_FILE = [{ path: "/repo/lock.py", content: "import threading\nlock = threading.Lock()\n" }];

/** A call per tool that an assistant would make first: each must answer with a status, not an error. */
const HAPPY_CALLS: Record<string, Record<string, unknown>> = {
  chat: { prompt: "Is a mutex needed here?", model: "flash" },
  thinkdeep: { step: "Should we shard the orders table?", step_number: 1, total_steps: 2, next_step_required: true, findings: "One table takes 80% of writes" },
  debug: { step: "Checkout fails under load", step_number: 1, total_steps: 2, next_step_required: true, findings: "Timeouts in the payment call" },
  codereview: {
    step: "Review the lock", step_number: 1, total_steps: 2, next_step_required: true, findings: "Starting",
    relevant_files: LOCK_FILE,
  },
  precommit: { step: "Validate the staged change", step_number: 1, total_steps: 3, next_step_required: true, findings: "Starting", path: "/repo" },
  secaudit: { step: "Audit the orders API", step_number: 1, total_steps: 2, next_step_required: true, findings: "Starting", security_scope: "Express API" },
  analyze: { step: "Map the service layer", step_number: 1, total_steps: 2, next_step_required: true, findings: "Three modules share one client", relevant_files: LOCK_FILE },
  refactor: { step: "Read orders.ts", step_number: 1, total_steps: 2, next_step_required: true, findings: "handle() is 300 lines", refactor_type: "decompose", relevant_files: LOCK_FILE },
  testgen: { step: "List parseConfig's behaviour", step_number: 1, total_steps: 2, next_step_required: true, findings: "Throws on bad JSON", relevant_files: LOCK_FILE },
  tracer: { step: "Trace checkout", step_number: 1, total_steps: 2, next_step_required: true, findings: "Entry is POST /checkout", target_description: "How a checkout runs", trace_mode: "precision" },
  docgen: { step: "Document src/billing", step_number: 1, total_steps: 2, next_step_required: true, findings: "3 modules", num_files_documented: 0, total_files_to_document: 3 },
  planner: { step: "Goal: move sessions to Postgres", step_number: 1, total_steps: 2, next_step_required: true },
  consensus: {
    step: "Move the job queue to Postgres", step_number: 1, total_steps: 2, next_step_required: true, findings: "Postgres is already a dependency",
    models: [{ model: "flash", stance: "for" }, { model: "gpt-5", stance: "against" }], parallel: true,
  },
  challenge: { prompt: "You are wrong about the lock order." },
  apilookup: { prompt: "What replaced React's findDOMNode?" },
  threads: { limit: 5 },
  usage: { days: 7 },
  listmodels: {},
  version: {},
};

async function connectV2(negotiation: { mode: "auto" } | { mode: { pin: string } }): Promise<ClientV2> {
  const client = new ClientV2({ name: "clients-e2e-v2", version: "1.0.0" }, { versionNegotiation: negotiation });
  await client.connect(new TransportV2(new URL(worker.mcpUrl), { requestInit: { headers: { authorization: `Bearer ${team.token}` } } }));
  return client;
}

/** The JSON a tool answered with, checked to be the same as structured content and as text. */
function answerOf(result: Awaited<ReturnType<ClientV2["callTool"]>>): Record<string, unknown> {
  const { content, structuredContent } = result as { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, unknown> };
  expect(structuredContent).toEqual(JSON.parse(content[0]?.text ?? ""));
  return structuredContent ?? {};
}

for (const [label, negotiation] of [
  ["pinned to 2026-07-28", { mode: { pin: "2026-07-28" } }],
  ["in auto mode", { mode: "auto" }],
] as const) {
  describe(`the official MCP SDK v2 client, ${label}`, () => {
    it("negotiates the modern era, lists every tool and gets a status from each one's first call", async () => {
      const client = await connectV2(negotiation);
      expect(client.getProtocolEra()).toBe("modern");
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual(Object.keys(HAPPY_CALLS).sort());
      for (const [name, args] of Object.entries(HAPPY_CALLS)) {
        const result = await client.callTool({ name, arguments: args });
        const answer = answerOf(result);
        expect(result.isError, `${name}: ${JSON.stringify(answer)}`).toBeFalsy();
        expect(answer["status"], name).toEqual(expect.any(String));
        expect(String(answer["status"]), name).not.toMatch(/failed|error/);
      }
      await client.close();
    }, MULTI_RUN_TEST_MS);

    it("gets progress while the model works, and continues the thread in another tool", async () => {
      const client = await connectV2(negotiation);
      const progress: string[] = [];
      const first = answerOf(await client.callTool({ name: "chat", arguments: HAPPY_CALLS["chat"] }, { onprogress: (update) => void progress.push(update.message ?? "") }));
      expect(progress.some((message) => message.includes("gemini-3.8-flash"))).toBe(true);
      const id = (first["continuation_offer"] as { continuation_id: string }).continuation_id;
      upstream.clearRequests();
      const review = answerOf(
        await client.callTool({
          name: "codereview",
          arguments: { ...HAPPY_CALLS["codereview"], next_step_required: false, total_steps: 1, continuation_id: id, model: "flash" },
        }),
      );
      expect(review["status"]).toEqual(expect.any(String));
      const asked = upstream.requests().map((logged) => JSON.stringify(logged.body)).join("\n");
      expect(asked).toContain("Is a mutex needed here?");
      await client.close();
    });
  });
}

describe("MCP Inspector CLI (@modelcontextprotocol/inspector --cli)", () => {
  it("lists the tools and calls version with the Authorization header; without it, asks for a sign-in", async () => {
    const where = sandbox();
    const target = ["--cli", "--server-url", worker.mcpUrl, "--transport", "http", "--format", "json"];
    const header = ["--header", `Authorization: Bearer ${team.token}`];

    const list = await run(INSPECTOR, [...target, ...header, "--method", "tools/list"], where);
    expect(list.code, list.stderr).toBe(0);
    const listed = JSON.parse(list.stdout) as { result: { tools: Array<{ name: string }> } };
    expect(listed.result.tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(["chat", "version"]));

    const call = await run(INSPECTOR, [...target, ...header, "--method", "tools/call", "--tool-name", "version"], where);
    expect(call.code, call.stderr).toBe(0);
    const called = JSON.parse(call.stdout) as { result: { content: Array<{ type: string; text: string }> } };
    expect(versionContent(called.result.content[0]?.text ?? "")).toContain(`Team: ${team.team}`);

    const unsigned = await run(INSPECTOR, [...target, "--stored-auth-only", "--method", "tools/list"], where);
    expect(unsigned.code).not.toBe(0);
    expect(`${unsigned.stdout}${unsigned.stderr}`).toContain("auth_required");
  }, MULTI_RUN_TEST_MS);
});

describe("mcp-remote (stdio to HTTP)", () => {
  it("forwards the SDK's stdio client to the server with the header read from an environment variable", async () => {
    const where = sandbox();
    const transport = new StdioClientTransport({
      command: process.execPath,
      // As in docs/clients.md: mcp-remote itself replaces ${ZEN_MCP_TOKEN} with the variable's value.
      args: [MCP_REMOTE, worker.mcpUrl, "--header", "Authorization: Bearer ${ZEN_MCP_TOKEN}"],
      env: { ...where.env, ZEN_MCP_TOKEN: team.token, MCP_REMOTE_CONFIG_DIR: join(where.home, ".mcp-auth") },
      cwd: where.project,
      stderr: "pipe",
    });
    let stderr = "";
    transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const client = new Client({ name: "clients-e2e", version: "1.0.0" });
    try {
      await client.connect(transport);
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(["chat", "version"]));
      const version = await callTool(client, "version", {});
      expect(version.isError, stderr).toBe(false);
      expect(versionContent(version.text)).toContain(`Team: ${team.team}`);
    } finally {
      await client.close();
    }
  });
});

/** `claude mcp list`'s lines, `name: target - status`, as name -> status. */
function claudeStatuses(output: string): Map<string, string> {
  const statuses = new Map<string, string>();
  for (const line of output.split("\n")) {
    const match = /^([\w-]+): .* - (.+)$/.exec(line.trim());
    if (match?.[1] && match[2]) statuses.set(match[1], match[2]);
  }
  return statuses;
}

describe("Claude Code CLI (@anthropic-ai/claude-code)", () => {
  it("`claude mcp add --transport http` with the header, and the bridge, show as connected in `claude mcp list`", async () => {
    const where = sandbox();
    const configDir = join(where.home, ".claude");
    // No Anthropic account or key: `claude mcp` manages and health-checks servers without one.
    Object.assign(where.env, { CLAUDE_CONFIG_DIR: configDir, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" });
    const adds = [
      ["mcp", "add", "--transport", "http", "zen", worker.mcpUrl, "--header", `Authorization: Bearer ${team.token}`],
      ["mcp", "add", "zen-files", "-e", `ZEN_MCP_TOKEN=${team.token}`, "--", process.execPath, BRIDGE, "bridge", "--url", worker.mcpUrl],
      ["mcp", "add", "--transport", "http", "zen-wrong-token", worker.mcpUrl, "--header", "Authorization: Bearer not-a-team-token"],
      ["mcp", "add", "--transport", "http", "zen-oauth", worker.mcpUrl],
    ];
    for (const args of adds) {
      const added = await run(CLAUDE, args, where);
      expect(added.code, `${args.join(" ")}\n${added.stderr}`).toBe(0);
    }
    expect(readFileSync(join(configDir, ".claude.json"), "utf8")).toContain(`"url": "${worker.mcpUrl}"`);

    const list = await run(CLAUDE, ["mcp", "list"], where);
    expect(list.code, list.stderr).toBe(0);
    const statuses = claudeStatuses(list.stdout);
    expect(statuses.get("zen"), list.stdout).toBe("✔ Connected");
    expect(statuses.get("zen-files"), list.stdout).toBe("✔ Connected");
    expect(statuses.get("zen-wrong-token"), list.stdout).toMatch(/Failed to connect.*401/);
    // No header: Claude Code finds the OAuth sign-in from the 401 (what claude.ai connectors use too).
    expect(statuses.get("zen-oauth"), list.stdout).toBe("! Needs authentication");
  }, MULTI_RUN_TEST_MS);
});

/** `gemini mcp list`'s lines, `✓ name: url (http) - Status`, as name -> status. */
function geminiStatuses(output: string): Map<string, string> {
  const statuses = new Map<string, string>();
  for (const line of output.split("\n")) {
    const match = /^\S+ ([\w-]+): .* - (\w+)$/.exec(line.trim());
    if (match?.[1] && match[2]) statuses.set(match[1], match[2]);
  }
  return statuses;
}

describe("Gemini CLI (@google/gemini-cli)", () => {
  it("`gemini mcp add --transport http --header`, an httpUrl entry reading the token from the environment, and the bridge connect", async () => {
    // The folder-trust prompt a person answers once: MCP servers stay disabled in an untrusted folder.
    const where = sandbox({ GEMINI_CLI_TRUST_WORKSPACE: "true" });
    for (const [name, token] of [["zen", team.token], ["zen-wrong-token", "not-a-team-token"]] as const) {
      const added = await run(GEMINI, ["mcp", "add", "--scope", "user", "--transport", "http", "--header", `Authorization: Bearer ${token}`, name, worker.mcpUrl], where);
      expect(added.code, added.stderr).toBe(0);
    }
    const bridge = await run(GEMINI, ["mcp", "add", "--scope", "user", "-e", `ZEN_MCP_TOKEN=${team.token}`, "zen-files", process.execPath, BRIDGE, "bridge", "--url", worker.mcpUrl], where);
    expect(bridge.code, bridge.stderr).toBe(0);
    const settingsPath = join(where.home, ".gemini/settings.json");
    const settings = JSON.parse(readFileSync(settingsPath, "utf8")) as { mcpServers: Record<string, Record<string, unknown>> };
    expect(settings.mcpServers["zen"]).toMatchObject({ url: worker.mcpUrl, type: "http" });
    settings.mcpServers["zen-env"] = { httpUrl: worker.mcpUrl, headers: { Authorization: "Bearer $ZEN_MCP_TOKEN" }, timeout: 600000 };
    writeFileSync(settingsPath, JSON.stringify(settings, null, 2));

    const list = await run(GEMINI, ["mcp", "list"], where, { ZEN_MCP_TOKEN: team.token });
    expect(list.code, list.stderr).toBe(0);
    const statuses = geminiStatuses(`${list.stdout}\n${list.stderr}`);
    expect(statuses.get("zen"), list.stdout).toBe("Connected");
    expect(statuses.get("zen-env"), list.stdout).toBe("Connected");
    expect(statuses.get("zen-files"), list.stdout).toBe("Connected");
    expect(statuses.get("zen-wrong-token"), list.stdout).toBe("Disconnected");
  }, MULTI_RUN_TEST_MS);
});

/** The tools of MCP server `name` that Codex offered its model in a Responses request (a `mcp__<name>` namespace). */
function codexMcpTools(body: unknown, name: string): string[] {
  if (typeof body !== "object" || body === null || !("tools" in body) || !Array.isArray(body.tools)) return [];
  const namespace: unknown = body.tools.find((tool: unknown) => typeof tool === "object" && tool !== null && "name" in tool && tool.name === `mcp__${name}`);
  if (typeof namespace !== "object" || namespace === null || !("tools" in namespace) || !Array.isArray(namespace.tools)) return [];
  return namespace.tools.flatMap((tool: unknown) => (typeof tool === "object" && tool !== null && "name" in tool && typeof tool.name === "string" ? [tool.name] : []));
}

describe("Codex CLI (@openai/codex)", () => {
  it("`codex mcp add --url --bearer-token-env-var`, and the bridge: a `codex exec` turn offers both servers' tools to its model", async () => {
    const where = sandbox();
    const codexHome = join(where.home, ".codex");
    mkdirSync(codexHome);
    where.env["CODEX_HOME"] = codexHome;
    const added = await run(CODEX, ["mcp", "add", "zen", "--url", worker.mcpUrl, "--bearer-token-env-var", "ZEN_MCP_TOKEN"], where);
    expect(added.code, added.stderr).toBe(0);
    const configPath = join(codexHome, "config.toml");
    const zenTable = `[mcp_servers.zen]\nurl = "${worker.mcpUrl}"\nbearer_token_env_var = "ZEN_MCP_TOKEN"\n`;
    expect(readFileSync(configPath, "utf8")).toBe(zenTable);
    // The configuration docs/clients.md gives: the table `codex mcp add` wrote, its two extra lines,
    // and the bridge as a stdio server.
    const extra = "tool_timeout_sec = 600\nrequired = true\n";
    const bridgeTable = `[mcp_servers.zen-files]\ncommand = "node"\nargs = ${JSON.stringify([BRIDGE, "bridge", "--url", worker.mcpUrl])}\nenv_vars = ["ZEN_MCP_TOKEN"]\n`;
    writeFileSync(configPath, `${zenTable}${extra}\n${bridgeTable}${extra}`);
    const got = await run(CODEX, ["mcp", "get", "zen", "--json"], where);
    expect(got.code, got.stderr).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ enabled: true, tool_timeout_sec: 600 });

    // Codex lists the servers' tools when a session starts (`required` makes it wait for them). Its
    // model here is the fake upstream (no OpenAI account), so the request it sends shows which
    // tools Codex got. `--disable plugins` keeps it from fetching its plugin catalog online.
    const model = [
      ["model_provider", '"fake"'],
      ["model", '"gpt-5"'],
      ["model_providers.fake.name", '"fake upstream"'],
      ["model_providers.fake.base_url", `"${upstream.url}/v1"`],
      ["model_providers.fake.wire_api", '"responses"'],
      ["model_providers.fake.env_key", '"FAKE_UPSTREAM_KEY"'],
      ["analytics.enabled", "false"],
    ].flatMap(([key, value]) => ["-c", `${key}=${value}`]);
    const turn = (token: string): Promise<Run> => {
      upstream.clearRequests();
      return run(CODEX, ["exec", "--skip-git-repo-check", "--disable", "plugins", ...model, "Which tools do you have?"], where, {
        ZEN_MCP_TOKEN: token,
        FAKE_UPSTREAM_KEY: "k",
      });
    };

    const signedIn = await turn(team.token);
    expect(signedIn.code, signedIn.stderr).toBe(0);
    const request = upstream.requests().find((logged) => logged.kind === "openai-responses");
    expect(request, signedIn.stderr).toBeDefined();
    expect(codexMcpTools(request?.body, "zen")).toEqual(expect.arrayContaining(["chat", "consensus", "version"]));
    expect(codexMcpTools(request?.body, "zen_files")).toEqual(expect.arrayContaining(["chat", "consensus", "version"]));

    const refused = await turn("not-a-team-token");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("required MCP servers failed to initialize");
    expect(upstream.requests().filter((logged) => logged.kind === "openai-responses")).toEqual([]);
  }, MULTI_RUN_TEST_MS);
});
