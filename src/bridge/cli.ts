/**
 * `zen-mcp-worker` command line: `bridge` (a stdio MCP server forwarding to a remote
 * zen-mcp-worker and uploading the local files tool calls name) and `push` (upload and register
 * files ahead of time). Runs on Node (bin/zen-mcp-worker.js), never in the Worker.
 */
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatBytes } from "./progress.ts";
import { runBridge } from "./proxy.ts";
import { WORKSPACE_PATTERN, defaultWorkspace, type RemoteOptions } from "./remote.ts";
import { HashCache, summaryLine, syncPaths } from "./uploads.ts";
import { BRIDGE_VERSION } from "./version.ts";

export const USAGE = `zen-mcp-worker ${BRIDGE_VERSION}

Usage:
  zen-mcp-worker bridge --url <MCP URL> [--token <token>] [--workspace <id>]
      A stdio MCP server for your assistant that forwards to the remote server and uploads the
      local files named in tool calls first (only what the server does not already have).
  zen-mcp-worker push <paths...> --url <MCP URL> [--token <token>] [--workspace <id>]
      Uploads and registers files and directories ahead of time, then prints a summary.

Options (or environment variables):
  --url        the server's MCP URL, e.g. https://zen.example.com/mcp        (ZEN_MCP_URL)
  --token      the team's bearer token; prefer the variable, it stays out of ps (ZEN_MCP_TOKEN)
  --workspace  names the set of path -> file registrations on the server, 1-64 of
               [A-Za-z0-9_.-]; default: one per user and machine            (ZEN_MCP_WORKSPACE)

Example (Claude Code, from a clone of zen-mcp-worker):
  claude mcp add zen -e ZEN_MCP_TOKEN=<token> -- node /path/to/zen-mcp-worker/bin/zen-mcp-worker.js \\
    bridge --url https://zen.example.com/mcp
`;

/** A mistake in how the command was called: usage text, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export type ParsedCommand =
  | { command: "help" | "version" }
  | { command: "bridge"; remote: RemoteOptions }
  | { command: "push"; paths: string[]; remote: RemoteOptions };

export function parseCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedCommand {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.version) return { command: "version" };
  const [command, ...paths] = positionals;
  if (values.help || command === undefined || command === "help") return { command: "help" };
  if (command !== "bridge" && command !== "push") throw new UsageError(`Unknown command '${command}': use 'bridge' or 'push'.`);
  if (command === "bridge" && paths.length > 0) throw new UsageError(`'bridge' takes no paths (got ${paths.join(" ")}).`);
  if (command === "push" && paths.length === 0) throw new UsageError("'push' needs at least one file or directory.");

  const rawUrl = values.url ?? env["ZEN_MCP_URL"];
  if (!rawUrl) throw new UsageError("The server's MCP URL is missing: pass --url https://host/mcp or set ZEN_MCP_URL.");
  let mcpUrl: URL;
  try {
    mcpUrl = new URL(rawUrl);
  } catch {
    throw new UsageError(`--url '${rawUrl}' is not a URL; expected e.g. https://zen.example.com/mcp.`);
  }
  if (mcpUrl.protocol !== "https:" && mcpUrl.protocol !== "http:") throw new UsageError(`--url must be http(s), not ${mcpUrl.protocol}`);
  const workspace = values.workspace ?? env["ZEN_MCP_WORKSPACE"] ?? defaultWorkspace();
  if (!WORKSPACE_PATTERN.test(workspace)) {
    throw new UsageError(`Workspace '${workspace}' is not valid: use 1-64 letters, digits, '_', '.' or '-'.`);
  }
  const token = values.token ?? env["ZEN_MCP_TOKEN"];
  const remote: RemoteOptions = { mcpUrl, workspace, ...(token ? { token } : {}) };
  return command === "push" ? { command, paths, remote } : { command, remote };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: "string" },
      token: { type: "string" },
      workspace: { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "v" },
    },
  });
}

async function push(paths: string[], remote: RemoteOptions): Promise<void> {
  const absolute = paths.map((path) => resolve(path));
  for (const path of absolute) {
    if (!(await stat(path).catch(() => undefined))) throw new Error(`${path} does not exist.`);
  }
  const summary = await syncPaths(
    absolute.map((path) => ({ path, allowDirectory: true })),
    { remote, cache: new HashCache() },
  );
  for (const warning of summary.warnings) process.stderr.write(`zen-mcp-worker push: ${warning}\n`);
  process.stderr.write(`${summaryLine(summary)}\n`);
  const files = (n: number) => `${n} file${n === 1 ? "" : "s"}`;
  process.stdout.write(
    `Pushed ${files(summary.files)} to workspace '${remote.workspace}' at ${remote.mcpUrl.origin}: ` +
      `${formatBytes(summary.uploadedBytes)} uploaded (${files(summary.uploadedFiles)}), ` +
      `${formatBytes(summary.skippedBytes)} skipped as already present (${files(summary.presentFiles)}), ` +
      `${summary.seconds.toFixed(2)} s.\n`,
  );
}

/** Runs a command; the exit code is the caller's to set (0 ok, 1 failed, 2 bad usage). */
export async function main(argv: string[]): Promise<number> {
  let command: ParsedCommand;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`zen-mcp-worker: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  switch (command.command) {
    case "help":
      process.stdout.write(USAGE);
      return 0;
    case "version":
      process.stdout.write(`${BRIDGE_VERSION}\n`);
      return 0;
    case "bridge":
      // The stdio server keeps the process alive; it exits when the assistant closes stdin.
      await runBridge(command.remote);
      return 0;
    case "push":
      try {
        await push(command.paths, command.remote);
        return 0;
      } catch (error) {
        process.stderr.write(`zen-mcp-worker push: ${error instanceof Error ? error.message : String(error)}\n`);
        return 1;
      }
  }
}
