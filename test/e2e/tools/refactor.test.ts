/**
 * refactor end to end: the real worker under `wrangler dev`, the fake upstream as the expert, the
 * official SDK client.
 */
import { describe, expect, it } from "vitest";
import { callTool, connectMcp, useMcpEnvironment } from "../../support/mcp-session.ts";

const env = useMcpEnvironment();

const ORDERS = {
  path: "/app/orders.ts",
  content: "export function handle(order) {\n  validate(order);\n  price(order);\n  ship(order);\n}\n",
};
const STYLE = { path: "/app/style/payments.ts", content: "export const pay = (p: Payment) => charge(p);\n" };

const PLAN = {
  status: "refactor_analysis_complete",
  refactor_opportunities: [
    {
      id: "R1",
      type: "decompose",
      severity: "medium",
      file: "/app/orders.ts",
      start_line: 1,
      end_line: 5,
      description: "handle does three jobs",
      suggested_change: "extract priceOrder and shipOrder",
    },
  ],
  priority_sequence: ["R1"],
  next_actions: ["Extract priceOrder first"],
};

function step(n: number, total: number, more: boolean, extra: Record<string, unknown> = {}) {
  return { step: `Refactor step ${n}`, step_number: n, total_steps: total, next_step_required: more, findings: `finding ${n}`, model: "flash", ...extra };
}

function lastUpstreamRequest(): string {
  return JSON.stringify(env.upstream.requests().at(-1)?.body);
}

describe("refactor: a full refactoring analysis", () => {
  it("pauses on its own confidence scale, resumes on a new connection, and returns the expert's plan", async () => {
    const first = await env.call(
      "refactor",
      step(1, 3, true, {
        relevant_files: [ORDERS],
        refactor_type: "decompose",
        focus_areas: ["readability"],
        style_guide_examples: ["/app/style/payments.ts"],
      }),
    );
    expect(first.isError).toBe(false);
    expect(first.json).toMatchObject({
      status: "pause_for_refactoring_analysis",
      refactor_required: true,
      // No confidence sent: refactor's default, on its own scale.
      refactoring_status: { relevant_files: 1, current_confidence: "incomplete", opportunities_by_type: {} },
      metadata: { tool_name: "refactor" },
    });
    expect(first.json?.required_actions.join(" ")).toContain("style_guide_examples");
    const id: string = first.json?.continuation_id;

    const other = await connectMcp(env.worker.mcpUrl);
    const second = await callTool(
      other,
      "refactor",
      step(2, 3, true, { continuation_id: id, confidence: "partial", issues_found: [{ severity: "medium", type: "decompose", description: "handle does three jobs" }] }),
    );
    await other.close();
    expect(second.json).toMatchObject({
      status: "pause_for_refactoring_analysis",
      continuation_id: id,
      refactoring_status: { current_confidence: "partial", opportunities_by_type: { decompose: 1 } },
    });
    // partial maps to the confirming actions.
    expect(second.json?.required_actions).toContain("Order the changes so each is safe on its own");
    expect(env.upstream.requests()).toHaveLength(0);

    env.upstream.fault({ replyText: "```json\n" + JSON.stringify(PLAN, null, 2) + "\n```" });
    // The paused steps kept only the path of orders.ts: the final step, which shows it to the expert, sends it again.
    const last = await env.call("refactor", step(3, 3, false, { continuation_id: id, confidence: "partial", relevant_files: [ORDERS, STYLE] }));
    expect(last.isError).toBe(false);
    expect(last.json).toMatchObject({
      status: "calling_expert_analysis",
      expert_analysis: PLAN,
      refactoring_complete: true,
      complete_refactoring: {
        steps_taken: 3,
        relevant_files: ["/app/orders.ts", "/app/style/payments.ts"],
        confidence_level: "partial",
        issues_found: [{ severity: "medium", type: "decompose", description: "handle does three jobs" }],
      },
      metadata: { tool_name: "refactor", model_used: "flash" },
    });

    const sent = lastUpstreamRequest();
    for (const n of [1, 2, 3]) expect(sent).toContain(`Step ${n}: finding ${n}`);
    expect(sent).toContain("=== REFACTOR TYPE ===\\ndecompose");
    expect(sent).toContain("=== FOCUS AREAS ===\\nreadability");
    expect(sent).toContain("=== STYLE GUIDE EXAMPLES ===");
    expect(sent).toContain("examples, not refactoring targets):\\n/app/style/payments.ts");
    expect(sent).toContain("=== CODE TO REFACTOR ===");
    expect(sent).toContain("   3│   price(order);");
    expect(sent).toContain("   1│ export const pay");
    expect(sent).toContain("[MEDIUM] handle does three jobs (type: decompose)");
    expect(sent).toContain("refactoring_paused");
  });

  it("refuses a confidence of the shared scale, which is not refactor's", async () => {
    const wrong = await env.call("refactor", step(1, 1, false, { relevant_files: [ORDERS], confidence: "certain" }));
    expect(wrong.isError).toBe(true);
    expect(wrong.text).toContain("confidence");
    expect(env.upstream.requests()).toHaveLength(0);
  });

  it("skips the expert when the analysis is complete, and finishes locally when use_assistant_model is false", async () => {
    const complete = await env.call("refactor", step(1, 1, false, { relevant_files: [ORDERS], confidence: "complete" }));
    expect(complete.json).toMatchObject({
      status: "refactoring_analysis_complete_ready_for_implementation",
      skip_expert_analysis: true,
      expert_analysis: { status: "skipped_due_to_complete_refactoring_confidence" },
      complete_refactoring: { confidence_level: "complete" },
    });
    const alone = await env.call("refactor", step(1, 1, false, { relevant_files: [ORDERS], confidence: "partial", use_assistant_model: false }));
    expect(alone.json).toMatchObject({ status: "local_work_complete", refactoring_complete: true });
    expect(env.upstream.requests()).toHaveLength(0);
  });

  it("asks the expert at an unfinished final step, with codesmells as the default type", async () => {
    env.upstream.fault({ replyText: JSON.stringify(PLAN) });
    const done = await env.call("refactor", step(1, 1, false, { relevant_files: [ORDERS] }));
    expect(done.json?.status).toBe("calling_expert_analysis");
    expect(done.json?.complete_refactoring.confidence_level).toBe("incomplete");
    const sent = lastUpstreamRequest();
    expect(sent).toContain("=== REFACTOR TYPE ===\\ncodesmells");
    expect(sent).not.toContain("STYLE GUIDE EXAMPLES");
  });

  it("promotes an expert's refactoring_paused answer", async () => {
    const paused = { status: "refactoring_paused", reason: "no tests cover handle", required_first: ["Add tests for handle"] };
    env.upstream.fault({ replyText: JSON.stringify(paused) });
    const result = await env.call("refactor", step(1, 1, false, { relevant_files: [ORDERS] }));
    expect(result.json?.status).toBe("refactoring_paused");
    expect(JSON.parse(result.json?.content)).toEqual(paused);
    expect(result.json?.expert_analysis).toBeUndefined();
    expect(result.json?.next_steps).toContain("final step again");
  });

  it("refuses a first step without the code to refactor", async () => {
    const bare = await env.call("refactor", step(1, 2, true, { refactor_type: "modernize" }));
    expect(bare.isError).toBe(true);
    expect(bare.json).toMatchObject({ status: "refactor_failed", step_number: 1 });
    expect(bare.json?.error).toContain("relevant_files");
  });
});
