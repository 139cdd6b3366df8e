/**
 * The bridge proper: a stdio MCP server for the assistant that forwards every request to the
 * remote zen-mcp-worker over Streamable HTTP. Before a tool call it uploads the local files the
 * arguments name, so the absolute paths the assistant passes mean something on the server; the
 * call itself is forwarded unchanged.
 *
 * Both sides speak both protocol eras. On stdio the opening message decides, per connection:
 * the 2026-07-28 revision (a per-request envelope, no handshake) or the 2025-era `initialize`
 * handshake. Towards the server the bridge negotiates 2026-07-28, and falls back to the
 * handshake against a server that predates it.
 *
 * stdout is the MCP channel: everything for people goes to stderr.
 */
import { join } from "node:path";
import {
  Client,
  ProtocolError,
  ProtocolErrorCode,
  SdkHttpError,
  StreamableHTTPClientTransport,
  type CallToolRequest,
  type CallToolResult,
  type Implementation,
  type Progress,
  type ProgressNotificationParams,
  type ProgressToken,
  type ServerCapabilities,
} from "@modelcontextprotocol/client";
import { Server, type ServerContext } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { WORKSPACE_HEADER } from "../core/wire-contract.ts";
import { pathCandidates } from "./paths.ts";
import { ServerError, answerError, authHeaders, describeCause, type RemoteOptions } from "./remote.ts";
import { replaceFile } from "./replace-file.ts";
import type { UploadScope } from "./upload-scope.ts";
import { HashCache, summaryLine, syncPaths } from "./uploads.ts";
import { BRIDGE_NAME, BRIDGE_VERSION } from "./version.ts";

/** The server's own call deadline is 10 minutes; progress (heartbeats) restarts the clock. */
const TOOL_CALL_TIMEOUT_MS = 10 * 60_000;
const CONNECT_TIMEOUT_MS = 30_000;

export const GENERATED_CODE_FILE = "zen_generated.code";

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * The remote side, connected on first use and again after a failed attempt: a bridge started
 * while the server is down, or with a token it refuses, keeps running and says why on each call.
 *
 * Cancelling a call needs nothing here: on 2026-07-28 the client aborts the call's own HTTP
 * request, which is what stops the model call on a stateless server (the Worker aborts its
 * upstream fetch when the client hangs up).
 */
class RemoteSession {
  private connecting: Promise<Client> | undefined;
  private readonly options: RemoteOptions;

  constructor(options: RemoteOptions) {
    this.options = options;
  }

  client(): Promise<Client> {
    this.connecting ??= this.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  private async connect(): Promise<Client> {
    const client = new Client({ name: BRIDGE_NAME, version: BRIDGE_VERSION }, { versionNegotiation: { mode: "auto" } });
    const transport = new StreamableHTTPClientTransport(this.options.mcpUrl, {
      requestInit: { headers: { ...authHeaders(this.options), [WORKSPACE_HEADER]: this.options.workspace } },
    });
    await client.connect(transport, { timeout: CONNECT_TIMEOUT_MS });
    return client;
  }

  async close(): Promise<void> {
    const client = await this.connecting?.catch(() => undefined);
    await client?.close().catch(() => undefined);
  }
}

/** The `fetch failed` of Node's fetch somewhere in an error's causes: the server could not be reached. */
function fetchFailure(error: unknown): Error | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (current.message === "fetch failed") return current;
  }
  return undefined;
}

/** A message for the assistant, with the server's own words when it gave any. */
export function describeError(error: unknown, options: RemoteOptions): string {
  if (error instanceof ServerError) return error.message;
  if (error instanceof SdkHttpError) {
    const body = typeof error.data.text === "string" ? error.data.text : "";
    return answerError(error.status, error.statusText ?? "", body, `The request to ${options.mcpUrl.href}`).message;
  }
  const unreachable = fetchFailure(error);
  if (unreachable) return `Could not reach the server at ${options.mcpUrl.href}: ${describeCause(unreachable)}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * A failure as the JSON-RPC error the assistant gets: the remote server's own JSON-RPC errors
 * (ProtocolError; the client's local failures are SdkErrors) pass on with their code, message
 * and data.
 */
function asProtocolError(error: unknown, options: RemoteOptions): ProtocolError {
  if (error instanceof ProtocolError) return error;
  return new ProtocolError(ProtocolErrorCode.InternalError, describeError(error, options));
}

function errorResult(text: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text }] };
}

/** The `generated_code` field of a result's JSON text. */
export function generatedCodeOf(result: CallToolResult): string | undefined {
  for (const item of result.content) {
    if (item.type !== "text" || !item.text.trimStart().startsWith("{")) continue;
    try {
      const parsed: unknown = JSON.parse(item.text);
      if (typeof parsed === "object" && parsed !== null) {
        const code = (parsed as Record<string, unknown>)["generated_code"];
        if (typeof code === "string") return code;
      }
    } catch {
      // Plain text that happens to start with a brace.
    }
  }
  return undefined;
}

/**
 * As the original server did: proposed code goes to `zen_generated.code` in the working directory,
 * for the assistant to review and apply. The note is a separate text item, so the JSON text
 * stays parseable. The file is replaced, not written through: a link planted under that name
 * cannot redirect the write (to ~/.bashrc, say).
 */
export async function saveGeneratedCode(result: CallToolResult, directory: string): Promise<CallToolResult> {
  const code = generatedCodeOf(result);
  if (code === undefined) return result;
  const target = join(directory, GENERATED_CODE_FILE);
  let note: string;
  try {
    await replaceFile(target, code.endsWith("\n") ? code : `${code}\n`);
    note = `The generated code was also written to ${target}: review it and apply what fits; do not run it blindly.`;
  } catch (error) {
    note = `The generated code could not be written to ${target}: ${error instanceof Error ? error.message : String(error)}`;
  }
  return { ...result, content: [...result.content, { type: "text", text: note }] };
}

/**
 * Progress for one tool call, under the assistant's progress token. Upload steps come first, and
 * the remote's values are shifted past them, so the sequence only ever increases.
 */
class ProgressRelay {
  private uploadSteps = 0;
  private readonly token: ProgressToken | undefined;
  private readonly send: (params: ProgressNotificationParams) => Promise<void>;

  constructor(token: ProgressToken | undefined, send: (params: ProgressNotificationParams) => Promise<void>) {
    this.token = token;
    this.send = send;
  }

  upload = (message: string): void => {
    if (this.token === undefined) return;
    this.uploadSteps++;
    this.send({ progressToken: this.token, progress: this.uploadSteps, message }).catch(() => undefined);
  };

  remote = (progress: Progress): void => {
    if (this.token === undefined) return;
    this.send({
      progressToken: this.token,
      progress: this.uploadSteps + progress.progress,
      ...(progress.total !== undefined ? { total: this.uploadSteps + progress.total } : {}),
      ...(progress.message !== undefined ? { message: progress.message } : {}),
    }).catch(() => undefined);
  };
}

interface RemoteInfo {
  serverInfo: Implementation;
  capabilities: ServerCapabilities;
  instructions: string | undefined;
}

/**
 * The remote's identity, instructions and capabilities, so the assistant sees the server it
 * knows; a stand-in with tools and prompts while the server cannot be reached.
 */
async function remoteInfo(remote: RemoteSession, options: RemoteOptions): Promise<RemoteInfo> {
  try {
    const client = await remote.client();
    return {
      serverInfo: client.getServerVersion() ?? { name: "zen-mcp-worker", version: BRIDGE_VERSION },
      capabilities: client.getServerCapabilities() ?? {},
      instructions: client.getInstructions(),
    };
  } catch (error) {
    log(`zen-bridge: cannot connect to ${options.mcpUrl.href} yet: ${describeError(error, options)} (retried on each request)`);
    return { serverInfo: { name: "zen-mcp-worker", version: BRIDGE_VERSION }, capabilities: { tools: {}, prompts: {} }, instructions: undefined };
  }
}

/** Only what the bridge forwards: tools and prompts. */
function mirroredCapabilities(remote: ServerCapabilities): ServerCapabilities {
  return {
    ...(remote.tools ? { tools: remote.tools } : {}),
    ...(remote.prompts ? { prompts: remote.prompts } : {}),
  };
}

export interface BridgeOptions extends RemoteOptions {
  /** Which local files tool calls may make the bridge upload. */
  scope: UploadScope;
  /** Where `zen_generated.code` is written; the bridge's working directory by default. */
  directory?: string;
}

/** Runs until the assistant closes stdin (or a signal). */
export async function runBridge(options: BridgeOptions): Promise<void> {
  const remote = new RemoteSession(options);
  const hashes = new HashCache();
  const directory = options.directory ?? process.cwd();
  const info = await remoteInfo(remote, options);
  const capabilities = mirroredCapabilities(info.capabilities);

  /** Forwards a request that has no local work; failures become JSON-RPC errors. */
  const forward = async <T>(call: (client: Client) => Promise<T>): Promise<T> => {
    try {
      return await call(await remote.client());
    } catch (error) {
      throw asProtocolError(error, options);
    }
  };

  const callTool = async (request: CallToolRequest, ctx: ServerContext): Promise<CallToolResult> => {
    const relay = new ProgressRelay(ctx.mcpReq._meta?.progressToken, (params) => ctx.mcpReq.notify({ method: "notifications/progress", params }));
    let client: Client;
    try {
      // Connect first: a refused token is reported with the server's message before any upload.
      client = await remote.client();
      const candidates = pathCandidates(request.params.arguments);
      if (candidates.length > 0) {
        const summary = await syncPaths(candidates, {
          remote: options,
          scope: options.scope,
          cache: hashes,
          signal: ctx.mcpReq.signal,
          onProgress: relay.upload,
        });
        for (const warning of summary.warnings) log(`zen-bridge: ${warning}`);
        log(summaryLine(summary));
      }
    } catch (error) {
      return errorResult(`zen-mcp-worker bridge: ${describeError(error, options)}`);
    }
    let result: CallToolResult;
    try {
      result = await client.callTool(request.params, {
        onprogress: relay.remote,
        resetTimeoutOnProgress: true,
        timeout: TOOL_CALL_TIMEOUT_MS,
        signal: ctx.mcpReq.signal,
      });
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      return errorResult(`zen-mcp-worker bridge: ${describeError(error, options)}`);
    }
    return saveGeneratedCode(result, directory);
  };

  /**
   * The server for one stdio connection, built in the era the assistant opens with. No ping
   * handler: the SDK answers a 2025-era ping itself (the bridge is alive), and 2026-07-28 has none.
   */
  const buildServer = (): Server => {
    const server = new Server(info.serverInfo, {
      capabilities,
      ...(info.instructions !== undefined ? { instructions: info.instructions } : {}),
    });
    if (capabilities.tools) {
      server.setRequestHandler("tools/list", (request) => forward((client) => client.listTools(request.params)));
      server.setRequestHandler("tools/call", callTool);
    }
    if (capabilities.prompts) {
      server.setRequestHandler("prompts/list", (request) => forward((client) => client.listPrompts(request.params)));
      server.setRequestHandler("prompts/get", (request) => forward((client) => client.getPrompt(request.params)));
    }
    return server;
  };

  const stdio = serveStdio(buildServer);
  let closing = false;
  const shutdown = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    await remote.close();
    await stdio.close().catch(() => undefined);
    // Against a server on the 2025 handshake the client may hold an idle SSE GET open; nothing else is left to finish.
    process.exit(0);
  };
  process.stdin.once("end", () => void shutdown());
  process.once("SIGINT", () => void shutdown());
  process.once("SIGTERM", () => void shutdown());

  log(
    `zen-bridge: serving ${options.mcpUrl.href} on stdio (workspace ${options.workspace}); uploads only files under ${options.scope.roots.join(", ")}` +
      (options.scope.allowSecrets ? ", dotfiles and secret-looking files included" : ""),
  );
}
