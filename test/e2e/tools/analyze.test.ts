/**
 * analyze end to end: the real worker under `wrangler dev`, the fake upstream as the expert, the
 * official SDK client.
 */
import { describe, expect, it } from "vitest";
import { callTool, connectMcp, useMcpEnvironment } from "../../support/mcp-session.ts";

const env = useMcpEnvironment();

const SERVICE = { path: "/app/service.ts", content: "export function load(ids: string[]) {\n  return ids.map(fetchOne);\n}\n" };

function step(n: number, total: number, more: boolean, extra: Record<string, unknown> = {}) {
  return { step: `Analysis step ${n}`, step_number: n, total_steps: total, next_step_required: more, findings: `finding ${n}`, model: "flash", ...extra };
}

/** The text of the last request the fake upstream received (system prompt and prompt). */
function lastUpstreamRequest(): string {
  return JSON.stringify(env.upstream.requests().at(-1)?.body);
}

describe("analyze: a full analysis", () => {
  it("pauses between steps, keeps the analysis scope of step 1, and always asks the expert at the end", async () => {
    const first = await env.call(
      "analyze",
      step(1, 3, true, { relevant_files: [SERVICE], analysis_type: "performance", output_format: "actionable", files_checked: ["/app/db.ts"] }),
    );
    expect(first.isError).toBe(false);
    expect(first.json).toMatchObject({
      status: "pause_for_analysis",
      step_number: 1,
      total_steps: 3,
      analyze_required: true,
      analysis_status: { files_checked: 2, relevant_files: 1, current_confidence: "low", insights_by_severity: {} },
      file_context: { type: "reference_only", note: "Files referenced in this step: /app/service.ts" },
      metadata: { tool_name: "analyze" },
    });
    expect(first.json?.required_actions[0]).toContain("Map the code's structure");
    expect(first.json?.metadata).not.toHaveProperty("model_used");
    const id: string = first.json?.continuation_id;
    expect(id).toBeTruthy();

    const other = await connectMcp(env.worker.mcpUrl);
    const second = await callTool(other, "analyze", step(2, 3, true, { continuation_id: id, confidence: "medium" }));
    await other.close();
    expect(second.json).toMatchObject({ status: "pause_for_analysis", step_number: 2, continuation_id: id });
    expect(second.json?.required_actions).toContain("Back each finding with the exact code (file:line)");
    expect(env.upstream.requests()).toHaveLength(0);

    // The paused steps kept only the file's path: the expert is shown it once the final step sends its content.
    const asked = await env.call("analyze", step(3, 3, false, { continuation_id: id, confidence: "certain" }));
    expect(asked.json).toMatchObject({ status: "files_required_to_continue" });
    expect(JSON.parse(asked.json?.content).files_needed).toEqual(["/app/service.ts"]);
    expect(env.upstream.requests()).toHaveLength(0);

    // Certain confidence does not skip analyze's expert: analyze has no skip rule.
    env.upstream.fault({ replyText: "## Actions\n1. Batch the lookups in service.ts:2 (effort: low)" });
    const last = await env.call("analyze", step(3, 3, false, { continuation_id: id, confidence: "certain", relevant_files: [SERVICE] }));
    expect(last.isError).toBe(false);
    expect(last.json).toMatchObject({
      status: "calling_expert_analysis",
      step_number: 3,
      expert_analysis: { status: "analysis_complete", raw_analysis: "## Actions\n1. Batch the lookups in service.ts:2 (effort: low)", format: "text" },
      analysis_complete: true,
      complete_analysis: { steps_taken: 3, relevant_files: ["/app/service.ts"], confidence_level: "certain" },
      metadata: { tool_name: "analyze", model_used: "flash", provider_used: "google" },
    });
    expect(last.json?.skip_expert_analysis).toBeUndefined();

    const sent = lastUpstreamRequest();
    for (const n of [1, 2, 3]) expect(sent).toContain(`Step ${n}: finding ${n}`);
    expect(sent).toContain("=== ANALYSIS REQUEST ===\\nAnalysis step 1");
    // The scope given at step 1 holds for the whole session.
    expect(sent).toContain("=== ANALYSIS SCOPE ===\\nAnalysis type: performance\\nOutput format: actionable");
    // Step 1's file is shown to the expert at the end, with line numbers.
    expect(sent).toContain("=== FILES TO ANALYZE ===");
    expect(sent).toContain("   2│   return ids.map(fetchOne);");
    expect(sent).toContain("strategic findings");
  });

  it("applies the defaults general and detailed when the call names no scope", async () => {
    env.upstream.fault({ replyText: "## Overview\nFine." });
    const done = await env.call("analyze", step(1, 1, false, { relevant_files: [SERVICE] }));
    expect(done.json?.status).toBe("calling_expert_analysis");
    expect(lastUpstreamRequest()).toContain("Analysis type: general\\nOutput format: detailed");
  });

  it("keeps the scope chosen at its step 1 when the session continues another tool's thread", async () => {
    const chat = await env.call("chat", { prompt: "Is our service layer sound?", model: "flash" });
    const chatId: string = chat.json?.continuation_offer.continuation_id;
    const first = await env.call("analyze", step(1, 2, true, { continuation_id: chatId, relevant_files: [SERVICE], analysis_type: "security" }));
    expect(first.json?.status).toBe("pause_for_analysis");
    env.upstream.fault({ replyText: "## Overview\nNo injection paths." });
    await env.call("analyze", step(2, 2, false, { continuation_id: chatId, relevant_files: [SERVICE] }));
    const sent = lastUpstreamRequest();
    expect(sent).toContain("Analysis type: security\\nOutput format: detailed");
    // The expert also sees the chat that came before the analysis.
    expect(sent).toContain("Is our service layer sound?");
  });

  it("completes locally when use_assistant_model is false", async () => {
    const alone = await env.call("analyze", step(1, 1, false, { relevant_files: [SERVICE], use_assistant_model: false }));
    expect(alone.json).toMatchObject({
      status: "local_work_complete",
      analysis_complete: true,
      complete_analysis: { steps_taken: 1, relevant_files: ["/app/service.ts"] },
    });
    expect(alone.json).not.toHaveProperty("expert_analysis");
    expect(env.upstream.requests()).toHaveLength(0);
  });

  it("refuses a first step without files to analyze, and stores nothing", async () => {
    const bare = await env.call("analyze", step(1, 2, true));
    expect(bare.isError).toBe(true);
    expect(bare.json).toMatchObject({ status: "analyze_failed", step_number: 1 });
    expect(bare.json?.error).toContain("relevant_files");
    expect(bare.json?.continuation_id).toBeUndefined();
  });

  it("has no hypothesis field: the schema leaves it out and a call with one is refused", async () => {
    const { tools } = await env.client.listTools();
    const properties = (name: string) => Object.keys(tools.find((tool) => tool.name === name)?.inputSchema.properties ?? {});
    expect(properties("analyze")).toContain("findings");
    expect(properties("analyze")).not.toContain("hypothesis");
    expect(properties("debug")).toContain("hypothesis");

    const withHypothesis = await env.call("analyze", step(1, 1, false, { relevant_files: [SERVICE], hypothesis: "N+1 queries" }));
    expect(withHypothesis.isError).toBe(true);
    expect(withHypothesis.text).toContain("hypothesis");
    expect(env.upstream.requests()).toHaveLength(0);
  });
});
