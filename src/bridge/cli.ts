/**
 * `zen-mcp-worker` command line: `bridge` (a stdio MCP server forwarding to a remote
 * zen-mcp-worker and uploading the local files tool calls name) and `push` (upload and register
 * files ahead of time). Runs on Node (bin/zen-mcp-worker.js), never in the Worker.
 */
import { realpathSync, statSync } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { parse as parsePath, resolve } from "node:path";
import { parseArgs } from "node:util";
import { WORKSPACE_PATTERN, WORKSPACE_RULE } from "../core/wire-contract.ts";
import { formatBytes } from "./progress.ts";
import { runBridge } from "./proxy.ts";
import { defaultWorkspace, type RemoteOptions } from "./remote.ts";
import type { UploadScope } from "./upload-scope.ts";
import { HashCache, summaryLine, syncPaths } from "./uploads.ts";
import { BRIDGE_VERSION } from "./version.ts";

export const USAGE = `zen-mcp-worker ${BRIDGE_VERSION}

Usage:
  zen-mcp-worker bridge --url <MCP URL> [--token <token>] [--workspace <id>] [--root <dir>] [--allow-secrets]
      A stdio MCP server for your assistant that forwards to the remote server and uploads the
      local files named in tool calls first (only what the server does not already have).
  zen-mcp-worker push <paths...> --url <MCP URL> [--token <token>] [--workspace <id>] [--root <dir>] [--allow-secrets]
      Uploads and registers files and directories ahead of time, then prints a summary.

Options (or environment variables):
  --url        the server's MCP URL, e.g. https://zen.example.com/mcp        (ZEN_MCP_URL)
               with a token, https only (plain http to 127.0.0.1, ::1 or localhost is fine)
  --token      the team's bearer token; prefer the variable, it stays out of ps (ZEN_MCP_TOKEN)
  --workspace  names the set of path -> file registrations on the server, 1-64 of
               [A-Za-z0-9_.-]; default: one per user and machine            (ZEN_MCP_WORKSPACE)
  --root       only files under this directory are uploaded, symlinks resolved: a tool call
               naming a file outside it fails; default: the bridge's working directory (not
               /), and for push the paths it is given                        (ZEN_MCP_ROOT)
  --allow-secrets
               also upload dotfiles and dot-folders (.env, .npmrc, .ssh/, .aws/...) and
               secret-looking files (*.pem, *.key, id_rsa*, credentials, kubeconfig...);
               without it a tool call naming one fails and directories leave them out

Example (Claude Code, from a clone of zen-mcp-worker):
  claude mcp add zen -e ZEN_MCP_TOKEN=<token> -- node /path/to/zen-mcp-worker/bin/zen-mcp-worker.js \\
    bridge --url https://zen.example.com/mcp
`;

/** A mistake in how the command was called: usage text, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** What `push` may upload: below the root (a real path) if one was named, and secrets or not. */
export interface PushAccess {
  root: string | undefined;
  allowSecrets: boolean;
}

export type ParsedCommand =
  | { command: "help" | "version" }
  | { command: "bridge"; remote: RemoteOptions; scope: UploadScope }
  | { command: "push"; paths: string[]; remote: RemoteOptions; access: PushAccess };

/** Plain http is readable on the way; only a connection that never leaves this machine may carry the token. */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(["127.0.0.1", "[::1]", "localhost"]);

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
    throw new UsageError(`Workspace '${workspace}' is not valid: use ${WORKSPACE_RULE}.`);
  }
  const token = values.token ?? env["ZEN_MCP_TOKEN"];
  if (token && mcpUrl.protocol === "http:" && !LOOPBACK_HOSTS.has(mcpUrl.hostname)) {
    throw new UsageError(
      `Refusing to send the team token over plain http to ${mcpUrl.host}: anyone on the way could read it. ` +
        "Use the server's https:// URL (plain http is only for 127.0.0.1, ::1 or localhost).",
    );
  }
  const remote: RemoteOptions = { mcpUrl, workspace, ...(token ? { token } : {}) };
  const rawRoot = values.root ?? env["ZEN_MCP_ROOT"];
  const root = rawRoot === undefined ? undefined : realDirectory(rawRoot);
  const allowSecrets = values["allow-secrets"] ?? false;
  if (command === "push") return { command, paths, remote, access: { root, allowSecrets } };
  return { command, remote, scope: { roots: [root ?? workingDirectoryRoot()], allowSecrets } };
}

/**
 * The bridge's default root, its working directory; unless that is the filesystem's root (some
 * assistants start servers there), which would let a tool call upload any file on the machine.
 */
function workingDirectoryRoot(): string {
  const directory = realpathSync(process.cwd());
  if (parsePath(directory).root === directory) {
    throw new UsageError(
      `The bridge's working directory is ${directory}, so any file on this machine could be uploaded: ` +
        "pass --root <your project directory> (or set ZEN_MCP_ROOT), or start the bridge in that directory.",
    );
  }
  return directory;
}

/** The root as a real path (symlinks resolved), so what lies below it is judged by where it really is. */
function realDirectory(path: string): string {
  let real: string;
  try {
    real = realpathSync(resolve(path));
  } catch {
    throw new UsageError(`The root '${path}' (--root or ZEN_MCP_ROOT) does not exist: name the directory whose files may be uploaded.`);
  }
  if (!statSync(real).isDirectory()) {
    throw new UsageError(`The root '${path}' (--root or ZEN_MCP_ROOT) is not a directory: name the directory whose files may be uploaded.`);
  }
  return real;
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
      root: { type: "string" },
      "allow-secrets": { type: "boolean" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "v" },
    },
  });
}

async function push(paths: string[], remote: RemoteOptions, access: PushAccess): Promise<void> {
  const absolute = paths.map((path) => resolve(path));
  for (const path of absolute) {
    if (!(await stat(path).catch(() => undefined))) throw new Error(`${path} does not exist.`);
  }
  // Paths typed on the command line are the user's own choice: without --root they are the roots.
  const scope: UploadScope = {
    roots: access.root !== undefined ? [access.root] : await Promise.all(absolute.map((path) => realpath(path))),
    allowSecrets: access.allowSecrets,
  };
  const summary = await syncPaths(
    absolute.map((path) => ({ path, allowDirectory: true })),
    { remote, scope, cache: new HashCache() },
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
      await runBridge({ ...command.remote, scope: command.scope });
      return 0;
    case "push":
      try {
        await push(command.paths, command.remote, command.access);
        return 0;
      } catch (error) {
        process.stderr.write(`zen-mcp-worker push: ${error instanceof Error ? error.message : String(error)}\n`);
        return 1;
      }
  }
}
