/**
 * consensus end to end: blinded, stance-steered models consulted one per step or all at once,
 * a failing model captured as its verdict, the fake upstream as every model.
 */
import { describe, expect, it } from "vitest";
import { callTool, connectMcp, useMcpEnvironment } from "../../support/mcp-session.ts";

const env = useMcpEnvironment();

const PANEL = [
  { model: "flash", stance: "for" },
  { model: "gpt-5", stance: "against" },
  { model: "pro", stance: "neutral", stance_prompt: "Judge only the migration risk." },
];
const PROPOSAL = "Move the job queue from Redis to Postgres SKIP LOCKED.";

function bodyFor(model: string): string {
  return JSON.stringify(env.upstream.requests().find((request) => request.model === model)?.body ?? "");
}

describe("consensus, one model per step", () => {
  it("consults each model blinded with its stance, captures a failure, and completes after the last", async () => {
    env.upstream.fault({ model: "gpt-5", status: 401 });
    const file = { path: "/app/queue.py", content: "def enqueue(job):\n    redis.lpush('jobs', job)\n" };
    const first = await env.call("consensus", {
      step: PROPOSAL,
      step_number: 1,
      total_steps: 2,
      next_step_required: true,
      findings: "Postgres is already a dependency.",
      models: PANEL,
      relevant_files: [file],
    });
    expect(first.isError).toBe(false);
    expect(first.json).toMatchObject({
      status: "analysis_and_first_model_consulted",
      step_number: 1,
      total_steps: 3,
      next_step_required: true,
      model_consulted: "flash",
      model_stance: "for",
      model_response: { status: "success", model: "flash", stance: "for", metadata: { provider: "google" } },
      agent_analysis: { initial_analysis: PROPOSAL, findings: "Postgres is already a dependency." },
      metadata: { tool_name: "consensus", workflow_type: "multi_model_consensus", models_to_consult: ["flash:for", "gpt-5:against", "pro:neutral"] },
    });
    expect(first.json?.next_steps).toContain("gpt-5:against");
    const id = first.json?.continuation_id;
    const flash = bodyFor("gemini-3.8-flash");
    expect(flash).toContain("YOUR STANCE: SUPPORTIVE");
    expect(flash).toContain(PROPOSAL);
    expect(flash).toContain("   1│ def enqueue(job):");
    // Blinded: the agent's own analysis is not shown to the panel.
    expect(flash).not.toContain("already a dependency");

    const other = await connectMcp(env.worker.mcpUrl);
    const second = await callTool(other, "consensus", { step: "Noted the supportive view.", step_number: 2, total_steps: 3, next_step_required: true, findings: "", continuation_id: id });
    await other.close();
    expect(second.json).toMatchObject({ status: "model_consulted", model_consulted: "gpt-5", model_response: { status: "error", stance: "against" } });
    expect(second.json?.model_response.error).toContain("OpenAI");

    const last = await env.call("consensus", { step: "Last one.", step_number: 3, total_steps: 3, next_step_required: false, findings: "", continuation_id: id });
    expect(last.json).toMatchObject({
      status: "consensus_workflow_complete",
      consensus_complete: true,
      next_step_required: false,
      model_consulted: "pro",
      complete_consensus: { initial_prompt: PROPOSAL, models_consulted: ["flash:for", "gpt-5:against", "pro:neutral"], total_responses: 3 },
      consensus_workflow_status: { models_consulted: 3, total_models: 3 },
    });
    expect(last.json?.accumulated_responses.map((v: { status: string }) => v.status)).toEqual(["success", "error", "success"]);
    const pro = bodyFor("gemini-3.1-pro-preview");
    expect(pro).toContain("Judge only the migration risk.");
    // Blinded to the others' verdicts.
    expect(pro).not.toContain("fake:gemini-3.8-flash");
  });
});

describe("consensus in parallel", () => {
  it("consults every model in one call and returns every verdict, a failure included", async () => {
    env.upstream.fault({ model: "gemini-3.8-flash", status: 400 });
    const result = await env.call("consensus", {
      step: PROPOSAL,
      step_number: 1,
      total_steps: 1,
      next_step_required: false,
      findings: "",
      models: PANEL,
      parallel: true,
    });
    expect(result.json).toMatchObject({ status: "consensus_workflow_complete", total_steps: 1, next_step_required: false });
    const verdicts = result.json?.accumulated_responses as Array<{ model: string; status: string }>;
    expect(verdicts.map((v) => [v.model, v.status])).toEqual([
      ["flash", "error"],
      ["gpt-5", "success"],
      ["pro", "success"],
    ]);
    expect(result.json?.model_consulted).toBeUndefined();
    expect(env.upstream.requests()).toHaveLength(3);
  });
});

describe("consensus input checks", () => {
  it("asks for models at step 1, refuses duplicate pairs, and answers an unknown model as that model's error", async () => {
    const base = { step: PROPOSAL, step_number: 1, total_steps: 2, next_step_required: true, findings: "" };
    const none = await env.call("consensus", base);
    expect(none.isError).toBe(true);
    expect(none.json).toMatchObject({ status: "consensus_failed" });
    const twice = await env.call("consensus", { ...base, models: [{ model: "flash" }, { model: "FLASH" }] });
    expect(twice.json?.error).toContain("once");
    expect(env.upstream.requests()).toHaveLength(0);
    const unknown = await env.call("consensus", { ...base, models: [{ model: "no-such-model" }, { model: "flash" }] });
    expect(unknown.isError).toBe(false);
    expect(unknown.json).toMatchObject({ status: "analysis_and_first_model_consulted", model_response: { model: "no-such-model", status: "error" } });
    expect(unknown.json?.model_response.error).toContain("no-such-model");
    expect(env.upstream.requests()).toHaveLength(0);
  });
});
