/**
 * Runs the real command line (`bin/zen-mcp-worker.js`) as a child process: the bridge behind an
 * MCP client over stdio, or a one-shot command whose exit code and output are collected.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";

export const BIN = resolve(import.meta.dirname, "../../bin/zen-mcp-worker.js");

export interface BridgeProcess {
  client: Client;
  /** Everything the bridge wrote to stderr so far. */
  stderr(): string;
}

/** `zen-mcp-worker bridge <args>` in `cwd`, connected to an MCP client. */
export async function startBridge(options: { args: string[]; cwd: string; env?: Record<string, string> }): Promise<BridgeProcess> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, "bridge", ...options.args],
    env: { ...getDefaultEnvironment(), ...options.env },
    cwd: options.cwd,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: "bridge-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

/** Waits (bounded) for a line starting with `prefix` on the bridge's stderr, which may lag its stdout. */
export async function stderrLine(bridge: BridgeProcess, prefix: string): Promise<string> {
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
