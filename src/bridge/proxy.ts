/**
 * The bridge proper: a stdio MCP server for the assistant that forwards every request to the
 * remote zen-mcp-worker over Streamable HTTP. Before a tool call it uploads the local files the
 * arguments name, so the absolute paths the assistant passes mean something on the server; the
 * call itself is forwarded unchanged.
 *
 * stdout is the MCP channel: everything for people goes to stderr.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListToolsRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
  PingRequestSchema,
  SetLevelRequestSchema,
  type CallToolResult,
  type Implementation,
  type LoggingMessageNotification,
  type Progress,
  type ServerCapabilities,
} from "@modelcontextprotocol/sdk/types.js";
import { WORKSPACE_HEADER } from "../files/wire-contract.ts";
import { pathCandidates } from "./paths.ts";
import { ServerError, authHeaders, describeCause, parseServerMessage, type RemoteOptions } from "./remote.ts";
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
 * The assistant's cancellation of the tool call being forwarded, for the HTTP requests made on
 * its behalf. The server is stateless: a `notifications/cancelled` reaches a fresh server that
 * never saw the call, so what stops the model call there is the call's own HTTP request going
 * away (the Worker aborts its upstream fetch when the client hangs up).
 */
const callSignal = new AsyncLocalStorage<AbortSignal>();

const fetchWithCallSignal: FetchLike = (url, init) => {
  const signal = callSignal.getStore();
  if (!signal) return fetch(url, init);
  return fetch(url, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal });
};

/**
 * The remote side, connected on first use and again after a failed attempt: a bridge started
 * while the server is down, or with a token it refuses, keeps running and says why on each call.
 */
class RemoteSession {
  private connecting: Promise<Client> | undefined;
  private readonly options: RemoteOptions;
  onLogMessage: ((params: LoggingMessageNotification["params"]) => void) | undefined;

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
    const client = new Client({ name: BRIDGE_NAME, version: BRIDGE_VERSION });
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => this.onLogMessage?.(notification.params));
    const transport = new StreamableHTTPClientTransport(this.options.mcpUrl, {
      fetch: fetchWithCallSignal,
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

/** A message for the assistant, with the server's own words when it gave any. */
export function describeError(error: unknown, options: RemoteOptions): string {
  if (error instanceof ServerError) return error.message;
  if (error instanceof StreamableHTTPError) {
    const body = error.message.replace(/^Streamable HTTP error: /, "").replace(/^Error POSTing to endpoint: /, "");
    const { message } = parseServerMessage(body);
    return `The server at ${options.mcpUrl.href} answered HTTP ${error.code ?? "error"}: ${message ?? body}`;
  }
  if (error instanceof McpError) return error.message;
  if (error instanceof Error && error.message === "fetch failed") {
    return `Could not reach the server at ${options.mcpUrl.href}: ${describeCause(error)}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * An error for the SDK to send as a JSON-RPC error: it sends `code` and `message` as they are, so
 * a plain Error is used rather than McpError, whose message carries an "MCP error -326xx:"
 * prefix that the assistant's SDK would add a second time.
 */
function protocolError(code: number, message: string, data?: unknown): Error {
  return Object.assign(new Error(message), { code, ...(data !== undefined ? { data } : {}) });
}

/** A JSON-RPC error from the remote server, passed on with its code, message and data. */
function remoteProtocolError(error: McpError): Error {
  return protocolError(error.code, error.message.replace(/^MCP error -?\d+: /, ""), error.data);
}

/** Timeouts and a closed connection are the bridge's own McpErrors, not the remote's answers. */
function isLocalMcpError(error: McpError): boolean {
  return error.code === ErrorCode.RequestTimeout || error.code === ErrorCode.ConnectionClosed;
}

function asProtocolError(error: unknown, options: RemoteOptions): Error {
  if (error instanceof McpError && !isLocalMcpError(error)) return remoteProtocolError(error);
  return protocolError(ErrorCode.InternalError, describeError(error, options));
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
  private readonly token: string | number | undefined;
  private readonly send: (params: Progress & { progressToken: string | number }) => Promise<void>;

  constructor(token: string | number | undefined, send: (params: Progress & { progressToken: string | number }) => Promise<void>) {
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

/** Only what the bridge forwards: tools, prompts, logging. */
function mirroredCapabilities(remote: ServerCapabilities): ServerCapabilities {
  return {
    ...(remote.tools ? { tools: remote.tools } : {}),
    ...(remote.prompts ? { prompts: remote.prompts } : {}),
    ...(remote.logging ? { logging: remote.logging } : {}),
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

  // Mirror the remote's identity and instructions, so the assistant sees the server it knows.
  let info: RemoteInfo;
  try {
    const client = await remote.client();
    info = {
      serverInfo: client.getServerVersion() ?? { name: "zen-mcp-worker", version: BRIDGE_VERSION },
      capabilities: client.getServerCapabilities() ?? {},
      instructions: client.getInstructions(),
    };
  } catch (error) {
    log(`zen-bridge: cannot connect to ${options.mcpUrl.href} yet: ${describeError(error, options)} (retried on each request)`);
    info = { serverInfo: { name: "zen-mcp-worker", version: BRIDGE_VERSION }, capabilities: { tools: {}, prompts: {}, logging: {} }, instructions: undefined };
  }
  const capabilities = mirroredCapabilities(info.capabilities);
  const server = new Server(info.serverInfo, {
    capabilities,
    ...(info.instructions !== undefined ? { instructions: info.instructions } : {}),
  });

  /** Forwards a request that has no local work; failures become JSON-RPC errors. */
  const forward = async <T>(call: (client: Client) => Promise<T>): Promise<T> => {
    try {
      return await call(await remote.client());
    } catch (error) {
      throw asProtocolError(error, options);
    }
  };

  server.setRequestHandler(PingRequestSchema, () => forward((client) => client.ping()));

  if (capabilities.tools) {
    server.setRequestHandler(ListToolsRequestSchema, (request) => forward((client) => client.listTools(request.params)));

    server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
      const relay = new ProgressRelay(extra._meta?.progressToken, (params) =>
        extra.sendNotification({ method: "notifications/progress", params }),
      );
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
            signal: extra.signal,
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
        // The SDK sends the request synchronously from callTool, so the POST's fetch runs in this context.
        result = (await callSignal.run(extra.signal, () =>
          client.callTool(request.params, CallToolResultSchema, {
            onprogress: relay.remote,
            resetTimeoutOnProgress: true,
            timeout: TOOL_CALL_TIMEOUT_MS,
            signal: extra.signal,
          }),
        )) as CallToolResult;
      } catch (error) {
        if (error instanceof McpError && !isLocalMcpError(error)) throw remoteProtocolError(error);
        return errorResult(`zen-mcp-worker bridge: ${describeError(error, options)}`);
      }
      return saveGeneratedCode(result, directory);
    });
  }

  if (capabilities.prompts) {
    server.setRequestHandler(ListPromptsRequestSchema, (request) => forward((client) => client.listPrompts(request.params)));
    server.setRequestHandler(GetPromptRequestSchema, (request) => forward((client) => client.getPrompt(request.params)));
  }

  if (capabilities.logging) {
    server.setRequestHandler(SetLevelRequestSchema, async (request) => {
      await forward((client) => client.setLoggingLevel(request.params.level));
      return {};
    });
    remote.onLogMessage = (params) => {
      server.notification({ method: "notifications/message", params }).catch(() => undefined);
    };
  }

  let closing = false;
  const shutdown = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    await remote.close();
    await server.close().catch(() => undefined);
    // The remote transport may hold an idle SSE GET open; nothing else is left to finish.
    process.exit(0);
  };
  server.onclose = () => void shutdown();
  process.stdin.once("end", () => void shutdown());
  process.once("SIGINT", () => void shutdown());
  process.once("SIGTERM", () => void shutdown());

  await server.connect(new StdioServerTransport());
  log(
    `zen-bridge: serving ${options.mcpUrl.href} on stdio (workspace ${options.workspace}); uploads only files under ${options.scope.roots.join(", ")}` +
      (options.scope.allowSecrets ? ", dotfiles and secret-looking files included" : ""),
  );
}
