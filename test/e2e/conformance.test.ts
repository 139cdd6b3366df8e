/**
 * The official MCP conformance suite against the real worker under `wrangler dev`: the scenarios
 * of the 2025 handshake and those of the 2026-07-28 revision that apply to a server with no
 * resources and none of the reference server's test tools.
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import type { WorkerProcess } from "../support/worker-process.ts";
import { e2eStack } from "../support/e2e-stack.ts";

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, "../../node_modules/@modelcontextprotocol/conformance/dist/index.js");
const SCENARIOS = ["server-initialize", "ping", "tools-list", "dns-rebinding-protection", "server-stateless", "http-header-validation"];
const EXPECTED_FAILURES = resolve(import.meta.dirname, "conformance/expected-failures.yaml");

let worker: WorkerProcess;

const stack = e2eStack();

beforeAll(async () => {
  worker = await stack.worker();
});

describe("MCP conformance suite", () => {
  it.each(SCENARIOS)("passes %s", async (scenario) => {
    const result = await run(process.execPath, [CLI, "server", "--url", worker.mcpUrl, "--scenario", scenario, "--expected-failures", EXPECTED_FAILURES], {
      timeout: 60_000,
    }).catch((error: { code?: number; stdout?: string; stderr?: string }) => error);
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
    expect({ code: "code" in result ? (result.code ?? 0) : 0, output }).toMatchObject({ code: 0 });
    // Every check passes but those the expected-failures file names (and a stale entry fails the run).
    expect(output).toMatch(/Passed: (\d+)\/\1, 0 failed|Baseline check passed: all failures are expected/);
  });
});
