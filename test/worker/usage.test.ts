/**
 * Usage accounting inside workerd: every model call of every tool adds its tokens to the team's
 * ledger (a row per day, provider and model), read through GET /v1/usage and the usage tool;
 * one team never sees another's.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { shippedModelsOf } from "../../src/providers/catalog";
import { callWorker, connectClient, deferredWorkDone, mcpPost, rpcMessages, testEnv, watchedNamespace } from "./helpers";
import { mockUpstream } from "./upstream-mock";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const PROVIDERS = { GEMINI_API_KEY: "k", GEMINI_BASE_URL: "https://gemini.test", OPENAI_API_KEY: "k", OPENAI_BASE_URL: "https://openai.test/v1" };
/** What the upstream mock reports for every call. */
const INPUT_PER_CALL = 10;
const OUTPUT_PER_CALL = 5;
const DAY_MS = 86_400_000;

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A worker env whose teams each have the token `token-<team>`; team ids are unique per test. */
async function teamsEnv(...teams: string[]) {
  const tokens = Object.fromEntries(await Promise.all(teams.map(async (team) => [await sha256Hex(`token-${team}`), team])));
  return testEnv({ ...PROVIDERS, TEAM_TOKENS: JSON.stringify(tokens) });
}

const bearer = (team: string) => ({ authorization: `Bearer token-${team}` });

async function callTool(workerEnv: ReturnType<typeof testEnv>, team: string, name: string, args: Record<string, unknown>) {
  const client = await connectClient(workerEnv, bearer(team));
  const result = await client.callTool({ name, arguments: args });
  await client.close();
  const text = (result.content as Array<{ text: string }>)[0]?.text ?? "";
  return { isError: result.isError === true, text, json: result.isError ? undefined : (JSON.parse(text) as Record<string, any>) };
}

interface UsageJson {
  team: string;
  days: number;
  from: string;
  to: string;
  rows: Array<{ day: string; provider: string; model: string; inputTokens: number; outputTokens: number; calls: number; estimatedCostUsd: number | null }>;
  totals: { calls: number; inputTokens: number; outputTokens: number; estimatedCostUsd: number; unpricedModels: string[] };
  note: string;
}

async function getUsage(workerEnv: ReturnType<typeof testEnv>, team: string, query = ""): Promise<{ status: number; body: UsageJson }> {
  const response = await callWorker(new Request(`http://localhost/v1/usage${query}`, { headers: bearer(team) }), workerEnv);
  return { status: response.status, body: (await response.json()) as UsageJson };
}

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function listPrice(provider: "google" | "openai", model: string) {
  const prices = shippedModelsOf(provider).find((m) => m.modelName === model)?.prices;
  if (!prices) throw new Error(`${model} has no price in the registry`);
  return prices;
}

describe("usage accounting", () => {
  it("counts every model call of chat, a workflow's expert and each consensus model, per day and model, with estimated cost", async () => {
    mockUpstream(() => "an answer");
    const workerEnv = await teamsEnv("usage-all-tools");
    const team = "usage-all-tools";
    expect((await callTool(workerEnv, team, "chat", { prompt: "Pick a queue", model: "gemini-2.5-flash" })).isError).toBe(false);
    const thinkdeep = await callTool(workerEnv, team, "thinkdeep", {
      step: "Should we shard?",
      step_number: 1,
      total_steps: 1,
      next_step_required: false,
      findings: "One table is hot.",
      model: "gemini-2.5-flash",
    });
    expect(thinkdeep.isError).toBe(false);
    const consensus = await callTool(workerEnv, team, "consensus", {
      step: "Move the queue to Postgres.",
      step_number: 1,
      total_steps: 1,
      next_step_required: false,
      findings: "",
      models: [{ model: "gemini-2.5-flash" }, { model: "gpt-5" }, { model: "gemini-3-pro-preview" }],
      parallel: true,
    });
    expect(consensus.json?.status).toBe("consensus_workflow_complete");

    const { status, body } = await getUsage(workerEnv, team);
    expect(status).toBe(200);
    const today = utcDay(Date.now());
    const flash = listPrice("google", "gemini-2.5-flash");
    const gpt5 = listPrice("openai", "gpt-5");
    const cost = (calls: number, p: { inputPerMtok: number; outputPerMtok: number }) =>
      (calls * INPUT_PER_CALL * p.inputPerMtok + calls * OUTPUT_PER_CALL * p.outputPerMtok) / 1_000_000;
    expect(body).toMatchObject({ team, days: 7, to: today, from: utcDay(Date.now() - 6 * DAY_MS) });
    expect(body.rows).toEqual([
      { day: today, provider: "google", model: "gemini-2.5-flash", calls: 3, inputTokens: 30, outputTokens: 15, estimatedCostUsd: expect.closeTo(cost(3, flash), 5) },
      // Gemini 3 Pro's list price depends on the prompt's length: the registry has no single price.
      { day: today, provider: "google", model: "gemini-3-pro-preview", calls: 1, inputTokens: 10, outputTokens: 5, estimatedCostUsd: null },
      { day: today, provider: "openai", model: "gpt-5", calls: 1, inputTokens: 10, outputTokens: 5, estimatedCostUsd: expect.closeTo(cost(1, gpt5), 5) },
    ]);
    expect(body.totals).toEqual({
      calls: 5,
      inputTokens: 50,
      outputTokens: 25,
      estimatedCostUsd: expect.closeTo(cost(3, flash) + cost(1, gpt5), 5),
      unpricedModels: ["google/gemini-3-pro-preview"],
    });
    expect(body.note).toContain("no price in the registry");

    const tool = await callTool(workerEnv, team, "usage", {});
    expect(tool.json).toMatchObject({
      status: "success",
      content_type: "markdown",
      continuation_offer: null,
      metadata: { tool_name: "usage", days: 7, calls: 5, input_tokens: 50, output_tokens: 25, unpriced_models: ["google/gemini-3-pro-preview"] },
    });
    const content = String(tool.json?.content);
    expect(content).toContain("| day | model | calls | input tokens | output tokens | estimated cost |");
    expect(content).toContain(`| ${today} | google/gemini-2.5-flash | 3 | 30 | 15 | $${body.rows[0]?.estimatedCostUsd?.toFixed(6)} |`);
    expect(content).toContain(`| ${today} | google/gemini-3-pro-preview | 1 | 10 | 5 | no price |`);
    expect(content).toContain("| **total** | | 5 | 50 | 25 |");
  });

  it("gathers the activity of concurrent calls into one write to the team's object", async () => {
    mockUpstream(() => "gathered");
    const workerEnv = await teamsEnv("usage-gathered");
    const team = "usage-gathered";
    let writes = 0;
    workerEnv.TEAMS = watchedNamespace(workerEnv.TEAMS, ["recordActivity"], () => writes++);
    const calls = await Promise.all(Array.from({ length: 8 }, (_, i) => callTool(workerEnv, team, "chat", { prompt: `question ${i}`, model: "gemini-2.5-flash" })));
    expect(calls.every((call) => !call.isError)).toBe(true);
    const { body } = await getUsage(workerEnv, team);
    expect(body.totals.calls).toBe(8);
    // Eight new threads and eight model calls, written together.
    expect(writes).toBeLessThan(8);
    const listed = (await (await callWorker(new Request("http://localhost/v1/threads", { headers: bearer(team) }), workerEnv)).json()) as { threads: unknown[] };
    expect(listed.threads).toHaveLength(8);
  });

  it("records nothing for a call that failed", async () => {
    vi.spyOn(globalThis, "fetch").mockResolvedValue(Response.json({ error: { message: "bad request" } }, { status: 400 }));
    const workerEnv = await teamsEnv("usage-failed");
    const failed = await callTool(workerEnv, "usage-failed", "chat", { prompt: "hi", model: "gemini-2.5-flash" });
    expect(failed.isError).toBe(true);
    const { body } = await getUsage(workerEnv, "usage-failed");
    expect(body.rows).toEqual([]);
    expect(body.totals).toMatchObject({ calls: 0, inputTokens: 0, outputTokens: 0, estimatedCostUsd: 0 });
  });

  it("reports only the days asked for, today included", async () => {
    mockUpstream();
    const workerEnv = await teamsEnv("usage-days");
    const team = "usage-days";
    const now = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    for (const daysAgo of [10, 3, 0]) {
      vi.setSystemTime(now - daysAgo * DAY_MS);
      expect((await callTool(workerEnv, team, "chat", { prompt: `${daysAgo} days ago`, model: "gemini-2.5-flash" })).isError).toBe(false);
    }
    vi.setSystemTime(now);
    const days = async (query: string) => (await getUsage(workerEnv, team, query)).body.rows.map((row) => row.day);
    expect(await days("?days=1")).toEqual([utcDay(now)]);
    expect(await days("?days=4")).toEqual([utcDay(now), utcDay(now - 3 * DAY_MS)]);
    expect(await days("")).toEqual([utcDay(now), utcDay(now - 3 * DAY_MS)]);
    expect(await days("?days=11")).toEqual([utcDay(now), utcDay(now - 3 * DAY_MS), utcDay(now - 10 * DAY_MS)]);
    const tool = await callTool(workerEnv, team, "usage", { days: 1 });
    expect(tool.json?.metadata).toMatchObject({ days: 1, calls: 1, from: utcDay(now), to: utcDay(now) });
  });

  it("drops rows older than a year as new ones arrive", async () => {
    mockUpstream();
    const workerEnv = await teamsEnv("usage-retention");
    const team = "usage-retention";
    const now = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now - 400 * DAY_MS);
    await callTool(workerEnv, team, "chat", { prompt: "long ago", model: "gemini-2.5-flash" });
    await deferredWorkDone();
    const ledger = workerEnv.TEAMS.getByName(team);
    expect((await ledger.usageSince("2000-01-01")).map((row) => row.day)).toEqual([utcDay(now - 400 * DAY_MS)]);
    vi.setSystemTime(now);
    await callTool(workerEnv, team, "chat", { prompt: "today", model: "gemini-2.5-flash" });
    await deferredWorkDone();
    expect((await ledger.usageSince("2000-01-01")).map((row) => row.day)).toEqual([utcDay(now)]);
  });

  it("refuses a days value out of range with a message saying what it takes", async () => {
    const workerEnv = await teamsEnv("usage-bad-days");
    for (const query of ["?days=0", "?days=367", "?days=abc", "?days=2.5", "?days="]) {
      const response = await callWorker(new Request(`http://localhost/v1/usage${query}`, { headers: bearer("usage-bad-days") }), workerEnv);
      expect(response.status, query).toBe(400);
      expect(await response.json()).toEqual({ error: "bad_request", message: "days must be a whole number from 1 to 366." });
    }
    const tool = await callTool(workerEnv, "usage-bad-days", "usage", { days: 0 });
    expect(tool.isError).toBe(true);
    expect(tool.text).toContain("Invalid arguments for usage");
  });

  it("keeps its tools/list entry small", async () => {
    const response = await callWorker(mcpPost({ jsonrpc: "2.0", id: 1, method: "tools/list" }), testEnv(PROVIDERS));
    const [message] = await rpcMessages(response);
    const tool = (message?.result as { tools: Array<{ name: string }> }).tools.find((t) => t.name === "usage");
    expect(Math.ceil(new TextEncoder().encode(JSON.stringify(tool)).byteLength / 4)).toBeLessThan(120);
  });
});

describe("budgets (TEAM_BUDGET_USD_PER_DAY, TEAM_BUDGET_USD_PER_MONTH)", () => {
  /** Each mocked call costs 10 input and 5 output tokens of gemini-2.5-flash at its list prices: $0.0000155. */
  async function budgetedEnv(team: string, vars: Record<string, string>) {
    const workerEnv = await teamsEnv(team);
    return { ...workerEnv, ...vars };
  }

  it("refuses a call once the day's spend reaches the daily budget, before any model is called, naming the budget, the spend and the reset", async () => {
    const sent = mockUpstream(() => "fine");
    const team = `budget-day-${crypto.randomUUID().slice(0, 8)}`;
    const workerEnv = await budgetedEnv(team, { TEAM_BUDGET_USD_PER_DAY: "0.00001" });
    expect((await callTool(workerEnv, team, "chat", { prompt: "First", model: "gemini-2.5-flash" })).isError).toBe(false);
    await deferredWorkDone();
    const refused = await callTool(workerEnv, team, "chat", { prompt: "Second", model: "gemini-2.5-flash" });
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain("TEAM_BUDGET_USD_PER_DAY");
    expect(refused.text).toContain("has spent $0.000016 today of its daily budget of $0.00001");
    expect(refused.text).toContain("No model was called");
    expect(refused.text).toMatch(/resets at 00:00 UTC, in \d+ (h|min)/);
    expect(sent).toHaveLength(1);
    // A tool that calls no model is not held by a budget.
    expect((await callTool(workerEnv, team, "version", {})).isError).toBe(false);
  });

  it("refuses once the month's spend reaches the monthly budget, and spends nothing of another team's", async () => {
    const sent = mockUpstream(() => "fine");
    const spender = `budget-month-${crypto.randomUUID().slice(0, 8)}`;
    const other = `budget-other-${crypto.randomUUID().slice(0, 8)}`;
    const workerEnv = { ...(await teamsEnv(spender, other)), TEAM_BUDGET_USD_PER_MONTH: "0.00002" };
    for (const prompt of ["One", "Two"]) expect((await callTool(workerEnv, spender, "chat", { prompt, model: "gemini-2.5-flash" })).isError).toBe(false);
    await deferredWorkDone();
    const refused = await callTool(workerEnv, spender, "chat", { prompt: "Three", model: "gemini-2.5-flash" });
    expect(refused.text).toContain("TEAM_BUDGET_USD_PER_MONTH");
    expect(refused.text).toContain("resets on the 1st at 00:00 UTC");
    expect((await callTool(workerEnv, other, "chat", { prompt: "Mine", model: "gemini-2.5-flash" })).isError).toBe(false);
    expect(sent).toHaveLength(3);
  });

  it("refuses a budget that is not a positive amount, naming the variable", async () => {
    const response = await callWorker(mcpPost({ jsonrpc: "2.0", id: 1, method: "tools/list" }), testEnv({ TEAM_BUDGET_USD_PER_DAY: "lots" }));
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ message: expect.stringContaining("TEAM_BUDGET_USD_PER_DAY") });
  });
});

describe("usage is the team's own (attack tests)", () => {
  it("team B reads none of team A's usage through /v1/usage, whatever it asks for, nor through the usage tool", async () => {
    mockUpstream();
    const workerEnv = await teamsEnv("usage-team-a", "usage-team-b");
    await callTool(workerEnv, "usage-team-a", "chat", { prompt: "team A's secret project", model: "gemini-2.5-flash" });
    const own = await getUsage(workerEnv, "usage-team-a");
    expect(own.body.totals.calls).toBe(1);

    for (const query of ["", "?team=usage-team-a", "?days=366&team=usage-team-a"]) {
      const theirs = await getUsage(workerEnv, "usage-team-b", query);
      expect(theirs.status).toBe(200);
      expect(theirs.body.team).toBe("usage-team-b");
      expect(theirs.body.rows).toEqual([]);
    }
    const tool = await callTool(workerEnv, "usage-team-b", "usage", { days: 366 });
    expect(tool.json?.metadata).toMatchObject({ calls: 0 });
    expect(tool.json?.content).toContain("No model calls recorded for team usage-team-b");
    const named = await callTool(workerEnv, "usage-team-b", "usage", { team: "usage-team-a" });
    expect(named.isError).toBe(true);
    expect(named.text).toContain("Invalid arguments for usage");
  });

  it("answers /v1/usage without a valid team token with 401", async () => {
    const workerEnv = await teamsEnv("usage-auth");
    const anonymous = await callWorker(new Request("http://localhost/v1/usage"), workerEnv);
    expect(anonymous.status).toBe(401);
    const wrong = await callWorker(new Request("http://localhost/v1/usage", { headers: { authorization: "Bearer guessed" } }), workerEnv);
    expect(wrong.status).toBe(401);
  });
});
