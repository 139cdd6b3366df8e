/**
 * codereview end to end: the real worker under `wrangler dev`, the fake upstream as the expert,
 * the official SDK client.
 */
import { describe, expect, it } from "vitest";
import { callTool, connectMcp, textOf, useMcpEnvironment } from "../../support/mcp-session.ts";

const env = useMcpEnvironment();

const EXPERT_JSON = {
  status: "review_complete",
  issues: [{ severity: "critical", location: "auth.py:2", description: "SQL built from user input", fix: "use a bound parameter" }],
  overall_assessment: "Small module with one injection.",
  top_priorities: ["auth.py:2"],
};

const AUTH = { path: "/app/auth.py", content: "def find(db, name):\n    return db.execute(f\"SELECT * FROM users WHERE name = '{name}'\")\n" };

function step(n: number, total: number, more: boolean, extra: Record<string, unknown> = {}) {
  return { step: `Review step ${n}`, step_number: n, total_steps: total, next_step_required: more, findings: `review finding ${n}`, model: "flash", ...extra };
}

function lastExpertPrompt(): string {
  return textOf(env.upstream.requests().at(-1)?.body);
}

describe("codereview: a full review", () => {
  it("pauses with issue counts by severity, resumes on a new connection, and asks the expert with the review settings", async () => {
    const first = await env.call(
      "codereview",
      step(1, 3, true, {
        relevant_files: [AUTH],
        review_type: "security",
        focus_on: "input handling",
        standards: "PEP 8, no string-built SQL",
        severity_filter: "high",
        issues_found: [{ severity: "critical", description: "string-built SQL in find" }],
        confidence: "low",
      }),
    );
    expect(first.isError).toBe(false);
    expect(first.json).toMatchObject({
      status: "pause_for_code_review",
      step_number: 1,
      total_steps: 3,
      codereview_required: true,
      code_review_status: { relevant_files: 1, issues_found: 1, issues_by_severity: { critical: 1 }, review_validation_type: "external" },
      file_context: { type: "reference_only", note: "Files referenced in this step: /app/auth.py" },
    });
    expect(first.json?.required_actions).toContain("Read every file under review in full and note its purpose, structure and dependencies");
    expect(first.json?.next_steps).toContain("step_number 2");
    expect(first.json?.metadata).toEqual({ tool_name: "codereview" });
    expect(env.upstream.requests()).toHaveLength(0);
    const id: string = first.json?.continuation_id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const other = await connectMcp(env.worker.mcpUrl);
    const second = await callTool(
      other,
      "codereview",
      step(2, 3, true, { continuation_id: id, confidence: "medium", issues_found: [{ severity: "high", description: "no input length limit" }] }),
    );
    await other.close();
    expect(second.json).toMatchObject({
      status: "pause_for_code_review",
      continuation_id: id,
      code_review_status: { issues_found: 2, issues_by_severity: { critical: 1, high: 1 } },
    });
    expect(second.json?.required_actions).toContain("Confirm each issue in the code and rule out false positives");

    env.upstream.fault({ replyText: "```json\n" + JSON.stringify(EXPERT_JSON) + "\n```" });
    // Without the bridge the paused steps kept only the file's path: the final step, which shows it to the expert, sends it again.
    const last = await env.call("codereview", step(3, 3, false, { continuation_id: id, confidence: "high", relevant_files: [AUTH] }));
    expect(last.isError).toBe(false);
    expect(last.json).toMatchObject({
      status: "calling_expert_analysis",
      step_number: 3,
      expert_analysis: EXPERT_JSON,
      code_review_complete: true,
      code_review_status: { issues_by_severity: { critical: 1, high: 1 } },
      complete_code_review: { steps_taken: 3, relevant_files: ["/app/auth.py"], confidence_level: "high" },
      file_context: { type: "fully_embedded", files_embedded: 1 },
      metadata: { tool_name: "codereview", model_used: "flash", provider_used: "google" },
    });
    expect(last.json?.next_steps).toContain("critical to low");

    const prompt = lastExpertPrompt();
    for (const n of [1, 2, 3]) expect(prompt).toContain(`Step ${n}: review finding ${n}`);
    expect(prompt).toContain("=== CODE REVIEW REQUEST ===\nReview step 1");
    expect(prompt).toContain("[CRITICAL] string-built SQL in find");
    expect(prompt).toContain("[HIGH] no input length limit");
    // The settings of step 1 hold at step 3, which did not repeat them.
    expect(prompt).toContain("=== REVIEW TYPE ===\nsecurity");
    expect(prompt).toContain("=== FOCUS ===\ninput handling");
    expect(prompt).toContain("=== CODING STANDARDS ===\nPEP 8, no string-built SQL");
    expect(prompt).toContain("=== SEVERITY FILTER ===\nReport only issues of severity critical, high.");
    expect(prompt).toContain("=== CODE TO REVIEW ===");
    expect(prompt).toContain("   1│ def find(db, name):");
    // The system prompt is codereview's own.
    expect(prompt).toContain("focused_review_required");
  });

  it("reviews in full, with every severity, when the settings are left out", async () => {
    env.upstream.fault({ replyText: JSON.stringify(EXPERT_JSON) });
    const done = await env.call("codereview", step(1, 1, false, { relevant_files: [AUTH] }));
    expect(done.json?.status).toBe("calling_expert_analysis");
    const prompt = lastExpertPrompt();
    expect(prompt).toContain("=== REVIEW TYPE ===\nfull");
    expect(prompt).toContain("=== SEVERITY FILTER ===\nReport issues of every severity.");
    expect(prompt).not.toContain("=== FOCUS ===");
    expect(prompt).not.toContain("=== CODING STANDARDS ===");
  });
});

describe("codereview: step-1 validation", () => {
  it("refuses a first step without files to review, and stores nothing", async () => {
    const refused = await env.call("codereview", step(1, 2, true));
    expect(refused.isError).toBe(true);
    expect(refused.json).toMatchObject({ status: "codereview_failed", step_number: 1, metadata: { tool_name: "codereview" } });
    expect(refused.json?.error).toContain("relevant_files");
    expect(refused.json?.continuation_id).toBeUndefined();
  });

  it("does not ask later steps for the files again", async () => {
    const first = await env.call("codereview", step(1, 2, true, { relevant_files: [AUTH] }));
    const second = await env.call("codereview", step(2, 2, true, { continuation_id: first.json?.continuation_id }));
    expect(second.isError).toBe(false);
    expect(second.json?.status).toBe("pause_for_code_review");
  });
});

describe("codereview: skip rules", () => {
  it("finishes an internal review without the expert, with the original's skip status", async () => {
    const internal = await env.call(
      "codereview",
      step(1, 1, false, { relevant_files: [AUTH], review_validation_type: "internal", issues_found: [{ severity: "low", description: "naming" }] }),
    );
    expect(internal.json).toMatchObject({
      status: "code_review_complete_ready_for_implementation",
      skip_expert_analysis: true,
      expert_analysis: { status: "skipped_due_to_internal_analysis_type" },
      code_review_status: { issues_by_severity: { low: 1 }, review_validation_type: "internal" },
      complete_code_review: { steps_taken: 1, issues_found: [{ severity: "low", description: "naming" }] },
    });
    expect(internal.json?.expert_analysis.reason).toContain("internal");
    expect(env.upstream.requests()).toHaveLength(0);
  });

  it("sends nothing out for an internal review that continues an earlier conversation", async () => {
    const chat = await env.call("chat", { prompt: "We store users in SQLite; names come from a web form.", model: "flash" });
    const chatId: string = chat.json?.continuation_offer.continuation_id;
    const continued = await env.call(
      "codereview",
      step(1, 1, false, { continuation_id: chatId, relevant_files: [AUTH], review_validation_type: "internal" }),
    );
    expect(continued.json).toMatchObject({
      status: "code_review_complete_ready_for_implementation",
      expert_analysis: { status: "skipped_due_to_internal_analysis_type" },
      continuation_id: chatId,
    });
    // The chat's one call, and none for the review.
    expect(env.upstream.requests()).toHaveLength(1);
  });

  it("finishes locally when use_assistant_model is false", async () => {
    const alone = await env.call("codereview", step(1, 1, false, { relevant_files: [AUTH], use_assistant_model: false }));
    expect(alone.json).toMatchObject({ status: "local_work_complete", code_review_complete: true });
    expect(alone.json?.next_steps).toContain("present your findings");
    expect(env.upstream.requests()).toHaveLength(0);
  });
});

describe("codereview: the expert's answers", () => {
  it("passes on a request for a focused review as the expert's analysis", async () => {
    const focused = { status: "focused_review_required", reason: "40 files at once", suggestion: "review the auth package first" };
    env.upstream.fault({ replyText: JSON.stringify(focused) });
    const done = await env.call("codereview", step(1, 1, false, { relevant_files: [AUTH] }));
    expect(done.json).toMatchObject({ status: "calling_expert_analysis", expert_analysis: focused });
    expect(done.json?.next_steps).toContain("focused_review_required");
  });

  it("keeps the settings of a review's first step in a thread another tool started", async () => {
    const chat = await env.call("chat", { prompt: "The report endpoint is slow.", model: "flash" });
    const chatId: string = chat.json?.continuation_offer.continuation_id;
    const first = await env.call("codereview", step(1, 2, true, { continuation_id: chatId, relevant_files: [AUTH], review_type: "performance" }));
    expect(first.json?.status).toBe("pause_for_code_review");
    env.upstream.fault({ replyText: JSON.stringify(EXPERT_JSON) });
    await env.call("codereview", step(2, 2, false, { continuation_id: chatId, relevant_files: [AUTH] }));
    expect(lastExpertPrompt()).toContain("=== REVIEW TYPE ===\nperformance");
  });
});

describe("codereview: its slash command", () => {
  it("has the original's review shortcut besides its own name, both pointing at the codereview tool", async () => {
    const { prompts } = await env.client.listPrompts();
    const names = prompts.map((prompt) => prompt.name);
    expect(names).toContain("review");
    expect(names).toContain("codereview");
    const prompt = await env.client.getPrompt({ name: "review", arguments: { model: "pro" } });
    expect(JSON.stringify(prompt.messages)).toContain("Use the codereview tool with model 'pro'");
  });
});
