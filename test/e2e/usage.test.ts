/**
 * Usage accounting end to end: the real worker under `wrangler dev`, two teams, the fake upstream
 * as every provider. Each model call's tokens reach the calling team's ledger (recorded after the
 * reply), and only that team reads them.
 */
import { createHash } from "node:crypto";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { beforeAll, describe, expect, it } from "vitest";
import type { UsageReport } from "../../src/providers/usage.ts";
import type { FakeUpstream } from "../fake-upstream/server.ts";
import { callTool, connectMcp } from "../support/mcp-session.ts";
import type { WorkerProcess } from "../support/worker-process.ts";
import { e2eStack } from "../support/e2e-stack.ts";

const TOKENS = { "team-a": "token-of-team-a", "team-b": "token-of-team-b" };
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

let upstream: FakeUpstream;
let worker: WorkerProcess;

const stack = e2eStack();

beforeAll(async () => {
  upstream = await stack.upstream();
  worker = await stack.worker({
    vars: {
      GEMINI_API_KEY: "k",
      GEMINI_BASE_URL: upstream.url,
      OPENAI_API_KEY: "k",
      OPENAI_BASE_URL: `${upstream.url}/v1`,
      TEAM_TOKENS: JSON.stringify({ [sha256(TOKENS["team-a"])]: "team-a", [sha256(TOKENS["team-b"])]: "team-b" }),
    },
  });
});

async function clientOf(team: keyof typeof TOKENS): Promise<Client> {
  return stack.client(connectMcp(worker.mcpUrl, { authorization: `Bearer ${TOKENS[team]}` }));
}

async function usageOf(team: keyof typeof TOKENS, query = ""): Promise<UsageReport> {
  const response = await fetch(`${worker.url}/v1/usage${query}`, { headers: { authorization: `Bearer ${TOKENS[team]}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as UsageReport;
}

/** The ledger is written after each reply: wait (bounded) until it shows `calls` calls. */
async function settledUsage(team: keyof typeof TOKENS, calls: number) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const usage = await usageOf(team);
    if (usage.totals.calls >= calls) return usage;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return usageOf(team);
}

describe("usage through wrangler dev", () => {
  it("records each call's tokens for its team, chat and every consensus model, and keeps the teams apart", async () => {
    const a = await clientOf("team-a");
    const chats = [await callTool(a, "chat", { prompt: "Name a queue library.", model: "gemini-2.5-flash" })];
    const id = chats[0]?.json?.continuation_offer?.continuation_id;
    chats.push(await callTool(a, "chat", { prompt: "And a second one?", continuation_id: id }));
    expect(chats.map((chat) => chat.isError)).toEqual([false, false]);
    const consensus = await callTool(a, "consensus", {
      step: "Adopt Postgres as the job queue.",
      step_number: 1,
      total_steps: 1,
      next_step_required: false,
      findings: "",
      models: [{ model: "gpt-5", stance: "for" }, { model: "gemini-3-pro-preview", stance: "against" }],
      parallel: true,
    });
    expect(consensus.json?.status).toBe("consensus_workflow_complete");

    const usage = await settledUsage("team-a", 4);
    expect(usage.team).toBe("team-a");
    const byModel = Object.fromEntries(usage.rows.map((row) => [`${row.provider}/${row.model}`, row]));
    expect(Object.keys(byModel).sort()).toEqual(["google/gemini-2.5-flash", "google/gemini-3-pro-preview", "openai/gpt-5"]);
    // The chat replies report their usage: the ledger holds exactly their sum.
    const reported = chats.map((chat) => chat.json?.metadata?.usage as { inputTokens: number; outputTokens: number });
    expect(byModel["google/gemini-2.5-flash"]).toMatchObject({
      calls: 2,
      inputTokens: reported[0]!.inputTokens + reported[1]!.inputTokens,
      outputTokens: reported[0]!.outputTokens + reported[1]!.outputTokens,
      estimatedCostUsd: expect.any(Number),
    });
    for (const model of ["gpt-5", "gemini-3-pro-preview"]) {
      const row = usage.rows.find((r) => r.model === model)!;
      expect(row.calls).toBe(upstream.requests().filter((request) => request.model === model).length);
      expect(row.inputTokens).toBeGreaterThan(0);
      expect(row.outputTokens).toBeGreaterThan(0);
    }
    expect(byModel["google/gemini-3-pro-preview"]?.estimatedCostUsd).toBeNull();

    const table = await callTool(a, "usage", { days: 1 });
    expect(table.json?.metadata).toMatchObject({ tool_name: "usage", calls: 4 });
    expect(table.json?.content).toContain("| google/gemini-2.5-flash | 2 |");

    // Team B, on the same server, sees none of it: not through the route, a query naming team A, or the tool.
    expect((await usageOf("team-b")).rows).toEqual([]);
    expect((await usageOf("team-b", "?team=team-a&days=366")).rows).toEqual([]);
    const b = await clientOf("team-b");
    const theirs = await callTool(b, "usage", { days: 366 });
    expect(theirs.json?.metadata).toMatchObject({ calls: 0 });
    expect(theirs.json?.content).toContain("No model calls recorded for team team-b");
  });
});
