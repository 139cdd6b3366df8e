/**
 * tracer end to end: the real worker under `wrangler dev`, the official SDK client, and the fake
 * upstream only to prove that tracing never calls a model.
 */
import { describe, expect, it } from "vitest";
import { callTool, connectMcp, useMcpEnvironment } from "../../support/mcp-session.ts";

const env = useMcpEnvironment();

const TARGET = "OrderService.checkout in /app/orders.py: how a checkout runs";

function step(n: number, total: number, more: boolean, extra: Record<string, unknown> = {}) {
  return {
    step: `Tracing step ${n}`,
    step_number: n,
    total_steps: total,
    next_step_required: more,
    findings: `trace finding ${n}`,
    target_description: TARGET,
    ...extra,
  };
}

describe("tracer: the advertised tool", () => {
  it("has the original's fields but no model settings, keeps target_description required and trace_mode optional", async () => {
    const { tools } = await env.client.listTools();
    const tracer = tools.find((tool) => tool.name === "tracer");
    expect(tracer).toBeDefined();
    const properties = Object.keys(tracer?.inputSchema.properties ?? {});
    expect(properties).toEqual(
      expect.arrayContaining(["trace_mode", "target_description", "findings", "relevant_files", "relevant_context", "model", "use_assistant_model", "confidence", "images"]),
    );
    for (const absent of ["temperature", "thinking_mode", "hypothesis", "issues_found"]) {
      expect(properties).not.toContain(absent);
    }
    expect(tracer?.inputSchema.required).toContain("target_description");
    expect(tracer?.inputSchema.required).not.toContain("trace_mode");
    expect(tracer?.annotations?.openWorldHint).toBe(false);
  });
});

describe("tracer: a precision trace", () => {
  it("asks for a mode first, keeps that step, then traces and renders a call flow without any model", async () => {
    const first = await env.call("tracer", step(1, 2, true, { files_checked: ["/app/orders.py"] }));
    expect(first.isError).toBe(false);
    expect(first.json).toMatchObject({ status: "mode_selection_required", step_number: 1, total_steps: 2, next_step_required: true });
    expect(Object.keys(first.json?.trace_modes)).toEqual(["precision", "dependencies"]);
    expect(first.json?.required_actions[0]).toContain("trace_mode");
    expect(first.json?.next_steps).toContain("step_number 2");
    expect(first.json?.metadata).toEqual({ tool_name: "tracer" });
    const id: string = first.json?.continuation_id;
    expect(first.json?.continuation_offer.continuation_id).toBe(id);

    const other = await connectMcp(env.worker.mcpUrl);
    const second = await callTool(other, "tracer", step(2, 3, true, { continuation_id: id, trace_mode: "precision", relevant_context: ["OrderService.checkout"] }));
    await other.close();
    expect(second.json).toMatchObject({
      status: "pause_for_tracing",
      step_number: 2,
      tracer_required: true,
      tracer_status: { files_checked: 1, relevant_context: 1, current_confidence: "low", images_collected: 0 },
      continuation_id: id,
    });
    expect(second.json?.tracer_status).not.toHaveProperty("issues_found");
    expect(second.json?.required_actions.join("\n")).toContain("execution order");

    // The final step leaves trace_mode out: the mode chosen in the session holds.
    const orders = { path: "/app/orders.py", content: "class OrderService:\n    def checkout(self):\n        self.pay()\n" };
    const last = await env.call("tracer", step(3, 3, false, { continuation_id: id, relevant_files: [orders] }));
    expect(last.isError).toBe(false);
    expect(last.json).toMatchObject({
      status: "tracing_complete",
      tracing_complete: true,
      step_number: 3,
      next_step_required: false,
      complete_tracing: {
        steps_taken: 3,
        relevant_files: ["/app/orders.py"],
        relevant_context: ["OrderService.checkout"],
        work_summary: "Step 1: trace finding 1\nStep 2: trace finding 2\nStep 3: trace finding 3",
      },
      output: { trace_mode: "precision" },
    });

    const rendering: string = last.json?.output.rendering_instructions;
    expect(rendering).toContain("call-flow diagram");
    expect(rendering).toContain("file:line");
    expect(rendering).toContain("branch");
    expect(rendering).toContain("side effects");
    expect(last.json?.next_steps).toContain("rendering_instructions");
    expect(last.json).not.toHaveProperty("expert_analysis");
    expect(last.json?.metadata).toEqual({ tool_name: "tracer" });

    expect(env.upstream.requests()).toHaveLength(0);
  });
});

describe("tracer: a dependencies trace", () => {
  it("takes the mode at step 1 and renders incoming and outgoing dependencies", async () => {
    const first = await env.call("tracer", step(1, 2, true, { trace_mode: "dependencies" }));
    expect(first.json?.status).toBe("pause_for_tracing");
    expect(first.json?.required_actions.join("\n")).toContain("(incoming)");
    const last = await env.call("tracer", step(2, 2, false, { continuation_id: first.json?.continuation_id }));
    expect(last.json).toMatchObject({ status: "tracing_complete", output: { trace_mode: "dependencies" } });
    const rendering: string = last.json?.output.rendering_instructions;
    expect(rendering).toContain("Incoming");
    expect(rendering).toContain("Outgoing");
    expect(rendering).not.toContain("call-flow diagram");
    expect(env.upstream.requests()).toHaveLength(0);
  });
});

describe("tracer: no mode chosen at the end", () => {
  it("does not complete a trace without a mode: it asks for one and keeps the session open", async () => {
    const only = await env.call("tracer", step(1, 1, false, { trace_mode: "ask" }));
    expect(only.isError).toBe(false);
    expect(only.json).toMatchObject({ status: "mode_selection_required", step_number: 1, total_steps: 2, next_step_required: true });
    expect(only.json).not.toHaveProperty("complete_tracing");
    expect(only.json).not.toHaveProperty("tracing_complete");
    expect(only.json).not.toHaveProperty("output");
    const id = only.json?.continuation_id;
    const done = await env.call("tracer", step(2, 2, false, { continuation_id: id, trace_mode: "precision" }));
    expect(done.json).toMatchObject({ status: "tracing_complete", complete_tracing: { steps_taken: 2 } });
    expect(env.upstream.requests()).toHaveLength(0);
  });
});

describe("tracer: validation", () => {
  it("requires target_description and a known trace_mode, and has no model settings", async () => {
    const { target_description: _omitted, ...withoutTarget } = step(1, 2, true);
    const cases: Array<[Record<string, unknown>, string]> = [
      [withoutTarget, "target_description"],
      [step(1, 2, true, { trace_mode: "everything" }), "trace_mode"],
      [step(1, 2, true, { temperature: 0.5 }), "temperature"],
      [step(1, 2, true, { hypothesis: "x" }), "hypothesis"],
    ];
    for (const [args, field] of cases) {
      const refused = await env.call("tracer", args);
      expect(refused.isError).toBe(true);
      expect(refused.text).toContain("Invalid arguments for tracer");
      expect(refused.text).toContain(field);
    }
    expect(env.upstream.requests()).toHaveLength(0);
  });
});
