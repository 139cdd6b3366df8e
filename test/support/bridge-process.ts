/**
 * Runs the real command line (`bin/zen-mcp-worker.js`) as a child process: the bridge behind an
 * MCP client over stdio, as an assistant of either protocol era starts it, or a one-shot
 * command whose exit code and output are collected.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import type { Stream } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport, getDefaultEnvironment, type StdioServerParameters } from "@modelcontextprotocol/client/stdio";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport as LegacyStdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

export const BIN = resolve(import.meta.dirname, "../../bin/zen-mcp-worker.js");

export interface BridgeProcess<C = LegacyClient> {
  client: C;
  /** Everything the bridge wrote to stderr so far. */
  stderr(): string;
}

/** `zen-mcp-worker bridge <args>` in `cwd`. */
export interface BridgeLaunch {
  args: string[];
  cwd: string;
  env?: Record<string, string>;
}

function serverParameters(launch: BridgeLaunch): StdioServerParameters {
  return {
    command: process.execPath,
    args: [BIN, "bridge", ...launch.args],
    env: { ...getDefaultEnvironment(), ...launch.env },
    cwd: launch.cwd,
    stderr: "pipe",
  };
}

async function connect<C extends { connect(transport: T): Promise<void> }, T extends { readonly stderr: Stream | null }>(
  client: C,
  transport: T,
): Promise<BridgeProcess<C>> {
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

/** The bridge behind a 2025-era assistant: the v1 SDK client and its `initialize` handshake. */
export function startBridge(launch: BridgeLaunch): Promise<BridgeProcess> {
  return connect(new LegacyClient({ name: "bridge-test", version: "1.0.0" }), new LegacyStdioClientTransport(serverParameters(launch)));
}

/**
 * The bridge behind a 2026-07-28 assistant: the v2 SDK client pinned to that revision, which
 * fails to connect rather than fall back to the handshake.
 */
export function startModernBridge(launch: BridgeLaunch): Promise<BridgeProcess<Client>> {
  const client = new Client({ name: "bridge-test-2026", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
  return connect(client, new StdioClientTransport(serverParameters(launch)));
}

/** Waits (bounded) for a line starting with `prefix` on the bridge's stderr, which may lag its stdout. */
export async function stderrLine(bridge: BridgeProcess<unknown>, prefix: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const line = bridge.stderr().split("\n").find((candidate) => candidate.startsWith(prefix));
    if (line !== undefined) return line;
    await sleep(50);
  }
  throw new Error(`no line starting with '${prefix}' on the bridge's stderr:\n${bridge.stderr()}`);
}

export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...options.env },
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((done) => child.once("exit", done));
  return { code, stdout, stderr };
}
