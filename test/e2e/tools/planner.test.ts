/**
 * planner end to end: the real worker under `wrangler dev`, the official SDK client, and the fake
 * upstream only to prove that planning never calls a model.
 */
import { describe, expect, it } from "vitest";
import { callTool, connectMcp, useMcpEnvironment } from "../../support/mcp-session.ts";

const env = useMcpEnvironment();

function step(n: number, total: number, more: boolean, text: string, extra: Record<string, unknown> = {}) {
  return { step: text, step_number: n, total_steps: total, next_step_required: more, ...extra };
}

describe("planner: the advertised tool", () => {
  it("has the original's model and use_assistant_model but no model settings or investigation fields, and is not open-world", async () => {
    const { tools } = await env.client.listTools();
    const planner = tools.find((tool) => tool.name === "planner");
    expect(planner).toBeDefined();
    const properties = Object.keys(planner?.inputSchema.properties ?? {});
    expect(properties).toEqual(expect.arrayContaining(["is_branch_point", "model", "use_assistant_model"]));
    for (const absent of ["temperature", "thinking_mode", "findings", "relevant_files", "confidence"]) {
      expect(properties).not.toContain(absent);
    }
    expect(planner?.inputSchema.required).toEqual(["step", "step_number", "total_steps", "next_step_required"]);
    expect(planner?.annotations?.openWorldHint).toBe(false);
    expect(planner?.description).toContain("no model is called");
  });
});

describe("planner: a plan with a revision and a branch", () => {
  it("asks for deep thinking early in a long plan, keeps revisions and branches, and completes without any model", async () => {
    const first = await env.call("planner", step(1, 6, true, "Goal: move user sessions from SQLite to Postgres without downtime"));
    expect(first.isError).toBe(false);
    expect(first.json).toMatchObject({
      status: "pause_for_deep_thinking",
      step_number: 1,
      total_steps: 6,
      next_step_required: true,
      planner_required: true,
      planner_status: { steps_recorded: 1, revisions: 0, branches: [] },
    });
    expect(first.json?.required_thinking.length).toBeGreaterThan(2);
    expect(first.json?.required_actions.length).toBeGreaterThan(0);
    expect(first.json?.next_steps).toContain("required_thinking");
    expect(first.json?.next_steps).toContain("step_number 2 of 6");
    // A tool without investigation fields reports none, and a tool without a model reports no model.
    expect(first.json?.planner_status).not.toHaveProperty("current_confidence");
    expect(first.json).not.toHaveProperty("file_context");
    expect(first.json?.metadata).toEqual({ tool_name: "planner" });
    const id: string = first.json?.continuation_id;
    expect(first.json?.continuation_offer.continuation_id).toBe(id);

    // Later steps come over other connections: the plan lives in the thread, not in a process.
    const other = await connectMcp(env.worker.mcpUrl);
    const second = await callTool(other, "planner", step(2, 6, true, "Design the Postgres schema", { continuation_id: id }));
    await other.close();
    expect(second.json).toMatchObject({ status: "pause_for_deep_thinking", step_number: 2, continuation_id: id });
    expect(second.json?.required_thinking).not.toEqual(first.json?.required_thinking);

    const third = await env.call("planner", step(3, 6, true, "Add a dual-write layer behind a flag", { continuation_id: id }));
    expect(third.json?.status).toBe("pause_for_deep_thinking");

    const revision = { continuation_id: id, is_step_revision: true, revises_step_number: 2 };
    const fourth = await env.call("planner", step(4, 6, true, "Design the Postgres schema with a tenant column", revision));
    expect(fourth.json).toMatchObject({ status: "pause_for_planning", step_number: 4, planner_status: { steps_recorded: 4, revisions: 1 } });
    expect(fourth.json).not.toHaveProperty("required_thinking");
    expect(fourth.json?.next_steps).not.toContain("required_thinking");

    const branch = { continuation_id: id, is_branch_point: true, branch_from_step: 3, branch_id: "big-bang" };
    const fifth = await env.call("planner", step(5, 6, true, "Alternative: copy everything in one maintenance window", branch));
    expect(fifth.json?.planner_status).toEqual({ steps_recorded: 5, revisions: 1, branches: ["big-bang"] });

    const last = await env.call("planner", step(6, 6, false, "Switch reads to Postgres, then retire SQLite", { continuation_id: id }));
    expect(last.isError).toBe(false);
    expect(last.json).toMatchObject({
      status: "planning_complete",
      planning_complete: true,
      step_number: 6,
      total_steps: 6,
      next_step_required: false,
      continuation_id: id,
    });
    expect(last.json?.plan_summary).toEqual({
      steps: [
        { step_number: 1, step: "Goal: move user sessions from SQLite to Postgres without downtime" },
        { step_number: 2, step: "Design the Postgres schema with a tenant column", revised_in_step: 4 },
        { step_number: 3, step: "Add a dual-write layer behind a flag" },
        { step_number: 6, step: "Switch reads to Postgres, then retire SQLite" },
      ],
      branches: [
        { branch_id: "big-bang", from_step: 3, steps: [{ step_number: 5, step: "Alternative: copy everything in one maintenance window" }] },
      ],
    });
    const instructions: string = last.json?.output.instructions;
    expect(instructions).toContain("ASCII");
    expect(instructions).toContain("no emojis");
    expect(instructions).toContain("no time estimates");
    expect(last.json?.next_steps).toContain("output.instructions");
    expect(last.json).not.toHaveProperty("complete_planning");
    expect(last.json).not.toHaveProperty("expert_analysis");
    expect(last.json?.metadata).toEqual({ tool_name: "planner" });

    expect(env.upstream.requests()).toHaveLength(0);
  });

  it("asks for deep thinking only while a plan of five steps or more is in its first three steps", async () => {
    const short = await env.call("planner", step(1, 4, true, "Rename a config flag"));
    expect(short.json?.status).toBe("pause_for_planning");
    expect(short.json).not.toHaveProperty("required_thinking");
    const id = short.json?.continuation_id;
    // Growing the plan to five steps makes the early steps deep ones.
    const grown = await env.call("planner", step(2, 5, true, "Find every reader of the flag", { continuation_id: id }));
    expect(grown.json?.status).toBe("pause_for_deep_thinking");
    const fourth = await env.call("planner", step(4, 5, true, "Ship the rename", { continuation_id: id }));
    expect(fourth.json?.status).toBe("pause_for_planning");
    expect(env.upstream.requests()).toHaveLength(0);
  });

  it("applies a revision of a revision to the same plan step, and lists steps that continue a branch under it", async () => {
    const a = (await env.call("planner", step(1, 5, true, "Plan the release"))).json?.continuation_id;
    await env.call("planner", step(2, 5, true, "Freeze on Monday", { continuation_id: a }));
    await env.call("planner", step(3, 5, true, "Freeze on Tuesday", { continuation_id: a, is_step_revision: true, revises_step_number: 2 }));
    await env.call("planner", step(4, 5, true, "Freeze on Wednesday", { continuation_id: a, is_step_revision: true, revises_step_number: 3 }));
    await env.call("planner", step(5, 6, true, "Canary first", { continuation_id: a, is_branch_point: true, branch_from_step: 2, branch_id: "canary" }));
    const done = await env.call("planner", step(6, 6, false, "Widen the canary", { continuation_id: a, branch_id: "canary" }));
    expect(done.json?.plan_summary).toEqual({
      steps: [
        { step_number: 1, step: "Plan the release" },
        { step_number: 2, step: "Freeze on Wednesday", revised_in_step: 4 },
      ],
      branches: [
        {
          branch_id: "canary",
          from_step: 2,
          steps: [
            { step_number: 5, step: "Canary first" },
            { step_number: 6, step: "Widen the canary" },
          ],
        },
      ],
    });
  });
});

describe("planner: sessions", () => {
  it("keeps two plans side by side apart", async () => {
    const a1 = await env.call("planner", step(1, 3, true, "alpha: plan the API"));
    const b1 = await env.call("planner", step(1, 3, true, "beta: plan the UI"));
    const a = a1.json?.continuation_id;
    const b = b1.json?.continuation_id;
    expect(a).not.toBe(b);
    await env.call("planner", step(2, 3, true, "beta: sketch the screens", { continuation_id: b }));
    await env.call("planner", step(2, 3, true, "alpha: list the endpoints", { continuation_id: a }));
    const aEnd = await env.call("planner", step(3, 3, false, "alpha: version the API", { continuation_id: a }));
    const bEnd = await env.call("planner", step(3, 3, false, "beta: test with users", { continuation_id: b }));
    const texts = (json: Record<string, any> | undefined) => json?.plan_summary.steps.map((s: { step: string }) => s.step);
    expect(texts(aEnd.json)).toEqual(["alpha: plan the API", "alpha: list the endpoints", "alpha: version the API"]);
    expect(texts(bEnd.json)).toEqual(["beta: plan the UI", "beta: sketch the screens", "beta: test with users"]);
    expect(env.upstream.requests()).toHaveLength(0);
  });

  it("starts a new plan at step 1 in a thread that already holds one, without the old plan's steps", async () => {
    const first = await env.call("planner", step(1, 2, true, "old: plan A"));
    const id = first.json?.continuation_id;
    await env.call("planner", step(2, 2, false, "old: finish A", { continuation_id: id }));
    const again = await env.call("planner", step(1, 2, true, "new: plan B", { continuation_id: id }));
    expect(again.json?.planner_status.steps_recorded).toBe(1);
    const done = await env.call("planner", step(2, 2, false, "new: finish B", { continuation_id: id }));
    expect(done.json?.plan_summary.steps).toEqual([
      { step_number: 1, step: "new: plan B" },
      { step_number: 2, step: "new: finish B" },
    ]);
  });

  it("stores its steps as readable turns that another tool's model sees", async () => {
    const first = await env.call("planner", step(1, 2, true, "Split the monolith's billing module"));
    const id = first.json?.continuation_id;
    await env.call("planner", step(2, 2, false, "Extract the invoice service first", { continuation_id: id }));
    expect(env.upstream.requests()).toHaveLength(0);

    await env.call("chat", { prompt: "Is this plan sound?", continuation_id: id, model: "flash" });
    const prompt = JSON.stringify(env.upstream.requests().at(-1)?.body);
    expect(prompt).toContain("(Agent using planner)");
    expect(prompt).toContain("Step 1/2 (planner): Split the monolith's billing module");
    expect(prompt).toContain("Step 2/2 (planner): Extract the invoice service first");
    expect(prompt).not.toContain("Findings:");
    expect(prompt).not.toContain("undefined");
  });
});

describe("planner: validation", () => {
  it("refuses inconsistent revision, branch and step fields, storing nothing", async () => {
    const id = (await env.call("planner", step(1, 3, true, "A plan"))).json?.continuation_id;
    const cases: Array<[Record<string, unknown>, string]> = [
      [step(2, 3, true, "x", { continuation_id: id, is_step_revision: true }), "revises_step_number"],
      [step(2, 3, true, "x", { continuation_id: id, is_step_revision: true, revises_step_number: 2 }), "revises_step_number"],
      [step(2, 3, true, "x", { continuation_id: id, is_branch_point: true, branch_from_step: 1 }), "branch_id"],
      [step(2, 3, true, "x", { continuation_id: id, is_branch_point: true, branch_id: "b", branch_from_step: 5 }), "branch_from_step"],
      [step(1, 3, true, "x", { branch_id: "b" }), "Step 1 starts the plan"],
      [step(1, 3, true, "x", { more_steps_needed: true }), "Step 1 starts the plan"],
      [step(3, 3, false, "x", { continuation_id: id, more_steps_needed: true }), "next_step_required to true"],
    ];
    for (const [args, message] of cases) {
      const refused = await env.call("planner", args);
      expect(refused.isError, JSON.stringify(args)).toBe(true);
      expect(refused.json).toMatchObject({ status: "planner_failed", metadata: { tool_name: "planner" } });
      expect(refused.json?.error).toContain(message);
    }
    // None of the refused steps was stored: the plan still has its first step only.
    const next = await env.call("planner", step(2, 3, true, "A second step", { continuation_id: id }));
    expect(next.json?.planner_status.steps_recorded).toBe(2);
  });

  it("rejects model settings and investigation fields it does not have, and names model and use_assistant_model ignored", async () => {
    const ignored = await env.call("planner", step(1, 2, true, "A plan", { model: "flash", use_assistant_model: false }));
    expect(ignored.isError).toBe(false);
    expect(Object.keys(ignored.json?.metadata.ignored_arguments)).toEqual(["model", "use_assistant_model"]);
    for (const extra of [{ temperature: 0.5 }, { findings: "x" }, { thinking_mode: "high" }]) {
      const refused = await env.call("planner", step(1, 2, true, "A plan", extra));
      expect(refused.isError).toBe(true);
      expect(refused.text).toContain("Invalid arguments for planner");
      expect(refused.text).toContain(Object.keys(extra)[0]);
    }
    expect(env.upstream.requests()).toHaveLength(0);
  });
});
