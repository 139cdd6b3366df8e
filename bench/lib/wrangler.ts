/**
 * A `wrangler dev` process started directly (the same arguments as test/support/worker-process.ts),
 * for what startWorker does not expose: the moment of spawn (cold-start timing polls every few
 * milliseconds instead of every 200 ms) and the inspector port (CPU profiles of the worker).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnWranglerDev, stopProcess } from "../../test/support/worker-process.ts";
import { deferCleanup, trackChild } from "./cleanup.ts";
import { PROJECT_CONFIG } from "./paths.ts";

export interface WranglerDev {
  url: string;
  mcpUrl: string;
  inspectorPort: number;
  persistDir: string;
  /** performance.now() just before spawn(). */
  spawnedAt: number;
  output(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

export async function spawnWrangler(options: { config?: string; vars?: Record<string, string>; persistDir?: string } = {}): Promise<WranglerDev> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const ownDir = options.persistDir === undefined;
  const persistDir = options.persistDir ?? mkdtempSync(join(tmpdir(), "zen-bench-"));
  const spawnedAt = performance.now();
  const child = spawnWranglerDev({
    config: options.config ?? PROJECT_CONFIG,
    port,
    inspectorPort,
    persistDir,
    ...(options.vars ? { vars: options.vars } : {}),
  });
  trackChild(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const stop = async (): Promise<void> => {
    await stopProcess(child);
    if (ownDir) rmSync(persistDir, { recursive: true, force: true });
  };
  const dispose = deferCleanup(stop);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    mcpUrl: `${url}/mcp`,
    inspectorPort,
    persistDir,
    spawnedAt,
    output: () => output,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    stop: async () => {
      dispose();
      await stop();
    },
  };
}

/** Polls `probe` every `everyMs` until it returns true; throws after `timeoutMs` or if wrangler exits. */
export async function waitUntilReady(dev: WranglerDev, probe: () => Promise<boolean>, timeoutMs = 120_000, everyMs = 10): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (dev.exited()) throw new Error(`wrangler dev exited:\n${dev.output()}`);
    try {
      if (await probe()) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`wrangler dev was not ready in ${timeoutMs} ms:\n${dev.output()}`);
}
