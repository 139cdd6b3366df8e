/**
 * thinkdeep end to end: the real worker under `wrangler dev`, the fake upstream as the model that
 * extends the agent's reasoning, the official SDK client.
 */
import { describe, expect, it } from "vitest";
import { callTool, connectMcp, useMcpEnvironment } from "../../support/mcp-session.ts";

const env = useMcpEnvironment();

const EXPERT_JSON = {
  status: "analysis_complete",
  summary: "Shard by tenant, not by order id: cross-tenant reports stay on one shard.",
  risks: ["hot tenants", "resharding cost"],
};

function step(n: number, total: number, more: boolean, extra: Record<string, unknown> = {}) {
  return { step: `Thought ${n} about sharding`, step_number: n, total_steps: total, next_step_required: more, findings: `insight ${n}`, model: "flash", ...extra };
}

describe("thinkdeep: a full session", () => {
  it("pauses between steps, resumes on a new connection, and has the other model extend the reasoning at the end", async () => {
    const first = await env.call(
      "thinkdeep",
      step(1, 3, true, { confidence: "exploring", problem_context: "Orders table at 2 TB, 80% of writes", focus_areas: ["scalability", "operability"] }),
    );
    expect(first.isError).toBe(false);
    expect(first.json).toMatchObject({
      status: "pause_for_thinkdeep",
      step_number: 1,
      total_steps: 3,
      next_step_required: true,
      thinkdeep_required: true,
      thinking_status: { current_step: 1, thinking_confidence: "exploring", analysis_focus: ["scalability", "operability"] },
    });
    expect(first.json?.required_actions).toContain("State the problem, constraints and success criteria");
    const id: string = first.json?.continuation_id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(env.upstream.requests()).toHaveLength(0);

    const other = await connectMcp(env.worker.mcpUrl);
    const second = await callTool(other, "thinkdeep", step(2, 3, true, { continuation_id: id, confidence: "medium", hypothesis: "shard by tenant" }));
    await other.close();
    expect(second.json).toMatchObject({ status: "pause_for_thinkdeep", step_number: 2, continuation_id: id });
    expect(second.json?.required_actions).toContain("Look for failure modes and edge cases of the leading option");

    env.upstream.fault({ replyText: "```json\n" + JSON.stringify(EXPERT_JSON) + "\n```" });
    const schema = { path: "/app/schema.sql", content: "CREATE TABLE orders (id BIGINT, tenant_id BIGINT);\n" };
    const last = await env.call("thinkdeep", step(3, 3, false, { continuation_id: id, confidence: "high", relevant_files: [schema] }));
    expect(last.isError).toBe(false);
    expect(last.json).toMatchObject({
      step_number: 3,
      next_step_required: false,
      continuation_id: id,
      expert_analysis: EXPERT_JSON,
      thinkdeep_complete: true,
      thinking_complete: true,
      complete_thinking: { steps_completed: 3, final_confidence: "high", files_analyzed: ["/app/schema.sql"] },
      metadata: { tool_name: "thinkdeep", model_used: "flash", provider_used: "google" },
    });
    expect(last.json?.completion_message).toContain("complete");
    expect(last.progress.some((message) => message.includes("expert"))).toBe(true);

    // The other model sees every step, the context and focus the agent gave, and the file with line numbers.
    const sent = JSON.stringify(env.upstream.requests().at(-1)?.body);
    for (const n of [1, 2, 3]) expect(sent).toContain(`insight ${n}`);
    expect(sent).toContain("shard by tenant");
    expect(sent).toContain("Orders table at 2 TB");
    expect(sent).toContain("scalability, operability");
    expect(sent).toContain("   1│ CREATE TABLE orders");
  });

  it("finishes without the other model when the agent is certain or turns it off", async () => {
    const certain = await env.call("thinkdeep", step(1, 1, false, { confidence: "certain" }));
    expect(certain.json).toMatchObject({ status: "deep_thinking_complete_ready_for_implementation", skip_expert_analysis: true });
    expect(certain.json?.expert_analysis).toMatchObject({ status: "skipped_due_to_certain_thinking_confidence" });
    expect(certain.json?.completion_message).toContain("certain confidence");

    const alone = await env.call("thinkdeep", step(1, 1, false, { confidence: "high", use_assistant_model: false }));
    expect(alone.json).toMatchObject({ status: "local_work_complete", thinking_complete: true });
    expect(alone.json).not.toHaveProperty("expert_analysis");
    expect(env.upstream.requests()).toHaveLength(0);
  });

  it("returns a prose answer whole as raw analysis, even one that contains a JSON block", async () => {
    const prose = "Sharding is premature: add a read replica first, e.g.\n```json\n{\"replicas\": 1}\n```";
    env.upstream.fault({ replyText: prose });
    const done = await env.call("thinkdeep", step(1, 1, false, { confidence: "high" }));
    expect(done.json?.expert_analysis).toEqual({ status: "analysis_complete", raw_analysis: prose, format: "text", note: "Analysis provided in plain text format" });
  });

  it("continues into chat, which sees the steps and the other model's answer", async () => {
    env.upstream.fault({ replyText: JSON.stringify(EXPERT_JSON) });
    const done = await env.call("thinkdeep", step(1, 1, false, { confidence: "high", findings: "writes concentrate on recent orders" }));
    const id = done.json?.continuation_id;
    const chat = await env.call("chat", { prompt: "Summarize what we decided.", continuation_id: id });
    expect(chat.isError).toBe(false);
    const prompt = JSON.stringify(env.upstream.requests().at(-1)?.body);
    expect(prompt).toContain("writes concentrate on recent orders");
    expect(prompt).toContain("Shard by tenant, not by order id");
    expect(prompt).toContain("(Agent using thinkdeep)");
  });
});
