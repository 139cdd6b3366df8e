/**
 * The official MCP conformance suite against the real worker under `wrangler dev`.
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorker, type WorkerProcess } from "../support/worker-process.ts";

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, "../../node_modules/@modelcontextprotocol/conformance/dist/index.js");
const SCENARIOS = ["server-initialize", "ping", "tools-list", "dns-rebinding-protection"];

let worker: WorkerProcess;

beforeAll(async () => {
  worker = await startWorker();
});

afterAll(async () => {
  await worker?.stop();
});

describe("MCP conformance suite", () => {
  it.each(SCENARIOS)("passes %s", async (scenario) => {
    const result = await run(process.execPath, [CLI, "server", "--url", worker.mcpUrl, "--scenario", scenario], {
      timeout: 60_000,
    }).catch((error: { code?: number; stdout?: string; stderr?: string }) => error);
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
    expect({ code: "code" in result ? (result.code ?? 0) : 0, output }).toMatchObject({ code: 0 });
    expect(output).toMatch(/Passed: (\d+)\/\1, 0 failed/);
  });
});
