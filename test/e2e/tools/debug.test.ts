/**
 * debug end to end (and, through it, the workflow engine every step tool shares): the real
 * worker under `wrangler dev`, the fake upstream as the expert, the official SDK client.
 */
import { describe, expect, it } from "vitest";
import { callTool, connectMcp, useMcpEnvironment } from "../../support/mcp-session.ts";

const env = useMcpEnvironment();

const EXPERT_JSON = {
  status: "analysis_complete",
  summary: "The cache key ignores the tenant.",
  hypotheses: [{ name: "tenant-less key", confidence: "high", root_cause: "key built from the path only" }],
};

function step(n: number, total: number, more: boolean, extra: Record<string, unknown> = {}) {
  return { step: `Step ${n} of the investigation`, step_number: n, total_steps: total, next_step_required: more, findings: `finding ${n}`, model: "flash", ...extra };
}

describe("debug: a full investigation", () => {
  it("pauses between steps, resumes from the continuation id on new connections, and asks the expert at the end", async () => {
    const first = await env.call("debug", step(1, 3, true, { hypothesis: "stale cache", confidence: "low", files_checked: ["/app/cache.py"] }));
    expect(first.isError).toBe(false);
    expect(first.json).toMatchObject({
      status: "pause_for_investigation",
      step_number: 1,
      total_steps: 3,
      next_step_required: true,
      investigation_required: true,
      investigation_status: { files_checked: 1, current_confidence: "low" },
      file_context: { type: "reference_only" },
    });
    expect(first.json?.required_actions.length).toBeGreaterThan(0);
    expect(first.json?.next_steps).toContain("step_number 2");
    const id: string = first.json?.continuation_id;
    expect(first.json?.continuation_offer.continuation_id).toBe(id);
    // Intermediate steps never call a model, and say so in their metadata.
    expect(first.json?.metadata).toEqual({ tool_name: "debug" });
    expect(env.upstream.requests()).toHaveLength(0);

    const other = await connectMcp(env.worker.mcpUrl);
    const second = await callTool(other, "debug", step(2, 3, true, { continuation_id: id, confidence: "medium", hypothesis: "tenant-less cache key" }));
    await other.close();
    expect(second.json).toMatchObject({ status: "pause_for_investigation", step_number: 2, continuation_id: id });

    env.upstream.fault({ replyText: "```json\n" + JSON.stringify(EXPERT_JSON) + "\n```" });
    const cache = { path: "/app/cache.py", content: "def key(path):\n    return path\n" };
    const last = await env.call("debug", step(3, 3, false, { continuation_id: id, confidence: "high", relevant_files: [cache] }));
    expect(last.isError).toBe(false);
    expect(last.json).toMatchObject({
      status: "calling_expert_analysis",
      step_number: 3,
      next_step_required: false,
      expert_analysis: EXPERT_JSON,
      investigation_complete: true,
      file_context: { type: "fully_embedded", files_embedded: 1 },
      complete_investigation: { steps_taken: 3, relevant_files: ["/app/cache.py"], confidence_level: "high" },
      metadata: { tool_name: "debug", model_used: "flash", provider_used: "google" },
    });
    expect(last.json?.important_considerations).toContain("validate");
    expect(last.progress.some((message) => message.includes("expert"))).toBe(true);

    const sent = JSON.stringify(env.upstream.requests().at(-1)?.body);
    for (const n of [1, 2, 3]) expect(sent).toContain(`Step ${n}: finding ${n}`);
    expect(sent).toContain("tenant-less cache key");
    expect(sent).toContain("ESSENTIAL FILES FOR DEBUGGING");
    expect(sent).toContain("   1│ def key(path):");
  });

  it("skips the expert when the agent is certain, and finishes locally when use_assistant_model is false", async () => {
    const certain = await env.call("debug", step(1, 1, false, { confidence: "certain", relevant_files: [{ path: "/a.py", content: "x = 1\n" }] }));
    expect(certain.json).toMatchObject({
      status: "certain_confidence_proceed_with_fix",
      skip_expert_analysis: true,
      expert_analysis: { status: "skipped_due_to_certain_confidence" },
      complete_investigation: { steps_taken: 1, confidence_level: "certain" },
    });
    // No model is shown the files, so an unknown content reference is not asked for.
    const alone = await env.call("debug", step(1, 1, false, { confidence: "medium", use_assistant_model: false, relevant_files: ["sha256:" + "0".repeat(64)] }));
    expect(alone.json).toMatchObject({ status: "local_work_complete", investigation_complete: true, complete_investigation: { confidence_level: "medium" } });
    expect(alone.json?.next_steps).toContain("present your findings");
    expect(env.upstream.requests()).toHaveLength(0);
  });

  it("completes locally when there is too little for an expert to check", async () => {
    const thin = await env.call("debug", step(1, 1, false, { confidence: "medium" }));
    expect(thin.json?.status).toBe("local_work_complete");
    expect(env.upstream.requests()).toHaveLength(0);
  });

  it("wraps a plain-text expert reply, and promotes an expert's request for files from a prose reply", async () => {
    env.upstream.fault({ replyText: "The bug is in the loop bound." });
    const plain = await env.call("debug", step(1, 1, false, { issues_found: [{ severity: "medium", description: "off by one" }] }));
    expect(plain.json?.expert_analysis).toEqual({
      status: "analysis_complete",
      raw_analysis: "The bug is in the loop bound.",
      format: "text",
      note: "Analysis provided in plain text format",
    });

    const request = { status: "files_required_to_continue", mandatory_instructions: "Send the caller", files_needed: ["/app/caller.py"] };
    env.upstream.fault({ replyText: "I need the caller first.\n\n```json\n" + JSON.stringify(request) + "\n```" });
    const paused = await env.call("debug", step(1, 1, false, { issues_found: [{ severity: "medium", description: "off by one" }] }));
    expect(paused.json?.status).toBe("files_required_to_continue");
    expect(JSON.parse(paused.json?.content)).toEqual(request);
    expect(paused.json?.next_steps).toContain("relevant_files");
    expect(paused.json?.expert_analysis).toBeUndefined();
  });

  it("keeps two sessions side by side apart", async () => {
    const a1 = await env.call("debug", { ...step(1, 2, true), findings: "alpha one" });
    const b1 = await env.call("debug", { ...step(1, 2, true), findings: "beta one" });
    const a = a1.json?.continuation_id;
    const b = b1.json?.continuation_id;
    expect(a).not.toBe(b);
    await env.call("debug", { ...step(2, 3, true), continuation_id: b, findings: "beta two" });
    env.upstream.fault({ replyText: "{}" });
    const aEnd = await env.call("debug", { ...step(2, 2, false), continuation_id: a, findings: "alpha two" });
    expect(aEnd.json?.complete_investigation.steps_taken).toBe(2);
    const sent = JSON.stringify(env.upstream.requests().at(-1)?.body);
    expect(sent).toContain("alpha one");
    expect(sent).not.toContain("beta");
  });

  it("asks for the continuation id when a later step comes without one", async () => {
    const orphan = await env.call("debug", step(2, 3, true));
    expect(orphan.isError).toBe(true);
    expect(orphan.text).toContain("continuation_id");
  });

  it("continues across tools: chat reads the expert's analysis, and debug shows the expert an earlier chat", async () => {
    const chat = await env.call("chat", { prompt: "Our service caches per path; tenants share one cache.", model: "flash" });
    const chatId = chat.json?.continuation_offer.continuation_id;
    env.upstream.fault({ replyText: JSON.stringify(EXPERT_JSON) });
    const debugged = await env.call("debug", step(1, 1, false, { continuation_id: chatId, issues_found: [{ severity: "high", description: "shared cache" }] }));
    expect(debugged.json?.continuation_id).toBe(chatId);
    const expertPrompt = JSON.stringify(env.upstream.requests().at(-1)?.body);
    expect(expertPrompt).toContain("tenants share one cache");
    expect(expertPrompt).toContain("(Agent using chat)");

    await env.call("chat", { prompt: "What did the expert conclude?", continuation_id: chatId });
    const chatPrompt = JSON.stringify(env.upstream.requests().at(-1)?.body);
    expect(chatPrompt).toContain("The cache key ignores the tenant.");
    expect(chatPrompt).toContain("(Agent using debug)");
  });
});
