/**
 * The original's workflow contract, field for field, inside workerd: every step tool gets the
 * calls a Zen-prompted assistant sends (every field of the original's schema) and answers with
 * the original's statuses and keys on each path: a pause, the expert's check, a skip by the
 * tool's rule, a skip by use_assistant_model, an internal review (with zero upstream calls), and
 * the expert's special replies. Also: paused steps store paths, never file content.
 */
import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/core/env.ts";
import { connectClient, deferredWorkDone, testEnv } from "./helpers";
import { mockUpstream, promptOf } from "./upstream-mock";

const GEMINI = { GEMINI_API_KEY: "test-key", GEMINI_BASE_URL: "https://gemini.test" };

afterEach(() => {
  vi.restoreAllMocks();
});

interface Answer {
  isError: boolean;
  text: string;
  json: Record<string, any>;
}

async function call(name: string, args: Record<string, unknown>, workerEnv: Env = testEnv(GEMINI)): Promise<Answer> {
  const client = await connectClient(workerEnv);
  const result = await client.callTool({ name, arguments: args });
  await client.close();
  const text = (result.content as Array<{ text: string }>)[0]?.text ?? "";
  let json: Record<string, any> = {};
  try {
    json = JSON.parse(text) as Record<string, any>;
  } catch {
    // An argument error is plain text.
  }
  return { isError: result.isError === true, text, json };
}

const FILE = { path: "/repo/cart.py", content: "def total(items):\n    return sum(i.price for i in items)\n" };
const ISSUES = [
  { severity: "high", description: "total ignores the discount", type: "decompose", location: "cart.py:2", fix: "apply the discount" },
  { severity: "info", description: "total has no docstring" },
];
const PIXEL = "data:image/png;base64,iVBORw0KGgo=";
const EXPERT_JSON = { status: "analysis_complete", summary: "The discount is never applied." };

/** The fields every investigating step tool of the original takes, as an assistant sends them at step 1. */
const INVESTIGATION = {
  step: "Find why the cart total is wrong",
  step_number: 1,
  total_steps: 3,
  next_step_required: true,
  findings: "total() sums prices and never looks at the discount.",
  files_checked: ["/repo/cart.py", "/repo/discounts.py"],
  relevant_files: [FILE],
  relevant_context: ["total"],
  issues_found: ISSUES,
  confidence: "medium",
  hypothesis: "the discount is dropped in total()",
  images: [PIXEL],
  use_assistant_model: true,
  model: "flash",
  temperature: 0.2,
  thinking_mode: "low",
};

interface Contract {
  tool: string;
  /** The original's example step 1: every field of its schema. */
  example: Record<string, unknown>;
  keys: { pause: string; required: string; progress: string; summary: string; done: string };
  /** The tool's own fields of its counters at step 1. */
  details: Record<string, unknown>;
  completeStatus: string;
  /** What finishes by the tool's own rule, and the original's expert_analysis.status then. */
  skip?: { args: Record<string, unknown>; status: string };
}

const CONTRACTS: Contract[] = [
  {
    tool: "debug",
    example: INVESTIGATION,
    keys: { pause: "pause_for_investigation", required: "investigation_required", progress: "investigation_status", summary: "complete_investigation", done: "investigation_complete" },
    details: { hypotheses_formed: 1 },
    completeStatus: "certain_confidence_proceed_with_fix",
    skip: { args: { confidence: "certain" }, status: "skipped_due_to_certain_confidence" },
  },
  {
    tool: "thinkdeep",
    example: { ...INVESTIGATION, problem_context: "Checkout totals disagree with invoices.", focus_areas: ["correctness"] },
    keys: { pause: "pause_for_thinkdeep", required: "thinkdeep_required", progress: "thinkdeep_status", summary: "complete_thinkdeep", done: "thinkdeep_complete" },
    details: {},
    completeStatus: "deep_thinking_complete_ready_for_implementation",
    skip: { args: { confidence: "certain" }, status: "skipped_due_to_certain_thinking_confidence" },
  },
  {
    tool: "codereview",
    example: { ...INVESTIGATION, review_validation_type: "external", review_type: "full", focus_on: "correctness", standards: "PEP 8", severity_filter: "all" },
    keys: { pause: "pause_for_code_review", required: "codereview_required", progress: "code_review_status", summary: "complete_code_review", done: "code_review_complete" },
    details: { issues_by_severity: { high: 1, info: 1 }, review_validation_type: "external" },
    completeStatus: "code_review_complete_ready_for_implementation",
    skip: { args: { review_validation_type: "internal" }, status: "skipped_due_to_internal_analysis_type" },
  },
  {
    tool: "precommit",
    example: {
      ...INVESTIGATION,
      precommit_type: "external",
      path: "/repo",
      compare_to: "main",
      include_staged: true,
      include_unstaged: true,
      focus_on: "the cart",
      severity_filter: "medium",
    },
    keys: { pause: "pause_for_validation", required: "precommit_required", progress: "validation_status", summary: "complete_validation", done: "validation_complete" },
    details: { issues_identified: 2, precommit_type: "external" },
    completeStatus: "validation_complete_ready_for_commit",
    skip: { args: { precommit_type: "internal" }, status: "skipped_due_to_internal_analysis_type" },
  },
  {
    tool: "secaudit",
    example: {
      ...INVESTIGATION,
      security_scope: "A Flask shop with card payments",
      threat_level: "high",
      compliance_requirements: ["PCI DSS"],
      audit_focus: "owasp",
      severity_filter: "all",
    },
    keys: { pause: "pause_for_security_audit", required: "secaudit_required", progress: "security_audit_status", summary: "complete_security_audit", done: "security_audit_complete" },
    details: { vulnerabilities_by_severity: { high: 1, info: 1 } },
    completeStatus: "security_analysis_complete",
    skip: { args: { confidence: "certain" }, status: "skipped_due_to_certain_audit_confidence" },
  },
  {
    tool: "analyze",
    // The original's analyze has no hypothesis.
    example: { ...withoutKey(INVESTIGATION, "hypothesis"), analysis_type: "quality", output_format: "actionable" },
    keys: { pause: "pause_for_analysis", required: "analyze_required", progress: "analysis_status", summary: "complete_analysis", done: "analysis_complete" },
    details: { insights_by_severity: { high: 1, info: 1 } },
    completeStatus: "analysis_complete_ready_for_implementation",
  },
  {
    tool: "refactor",
    example: {
      ...INVESTIGATION,
      confidence: "partial",
      refactor_type: "decompose",
      focus_areas: ["readability"],
      style_guide_examples: ["/repo/orders.py"],
    },
    keys: { pause: "pause_for_refactoring_analysis", required: "refactor_required", progress: "refactoring_status", summary: "complete_refactoring", done: "refactoring_complete" },
    details: { opportunities_by_type: { decompose: 1, unknown: 1 } },
    completeStatus: "refactoring_analysis_complete_ready_for_implementation",
    skip: { args: { confidence: "complete" }, status: "skipped_due_to_complete_refactoring_confidence" },
  },
  {
    tool: "testgen",
    example: INVESTIGATION,
    keys: { pause: "pause_for_test_analysis", required: "testgen_required", progress: "test_generation_status", summary: "complete_test_generation", done: "test_generation_complete" },
    details: {},
    completeStatus: "test_generation_complete_ready_for_implementation",
    skip: { args: { confidence: "certain" }, status: "skipped_due_to_certain_test_confidence" },
  },
];

function withoutKey(args: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _left, ...rest } = args;
  return rest;
}

/** The example as one step that ends the session at once. */
function finalStep(contract: Contract, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...contract.example, total_steps: 3, next_step_required: false, ...extra };
}

describe.each(CONTRACTS)("$tool: the original's contract", (contract) => {
  it("takes every field of the original's schema and pauses with its keys, calling no model", async () => {
    const sent = mockUpstream();
    const paused = await call(contract.tool, contract.example);
    expect(paused.isError, paused.text).toBe(false);
    expect(paused.json).toMatchObject({
      status: contract.keys.pause,
      step_number: 1,
      total_steps: 3,
      next_step_required: true,
      [contract.keys.required]: true,
      [contract.keys.progress]: {
        files_checked: 2,
        relevant_files: 1,
        relevant_context: 1,
        issues_found: 2,
        images_collected: 1,
        current_confidence: contract.example["confidence"],
        ...contract.details,
      },
      file_context: { type: "reference_only", note: "Files referenced in this step: /repo/cart.py" },
      continuation_offer: { remaining_turns: 49 },
    });
    expect(paused.json.required_actions.length).toBeGreaterThan(0);
    expect(paused.json.continuation_id).toBe(paused.json.continuation_offer.continuation_id);
    expect(sent).toHaveLength(0);
  });

  it("asks the expert at the end, with every field of every issue, and completes with the original's keys", async () => {
    const sent = mockUpstream(() => "```json\n" + JSON.stringify(EXPERT_JSON) + "\n```");
    const workerEnv = testEnv(GEMINI);
    const first = await call(contract.tool, contract.example, workerEnv);
    const id = first.json.continuation_id as string;
    const last = await call(
      contract.tool,
      { ...contract.example, step: "Confirmed", step_number: 2, total_steps: 3, next_step_required: false, continuation_id: id, issues_found: [] },
      workerEnv,
    );
    expect(last.isError, last.text).toBe(false);
    expect(last.json).toMatchObject({
      status: "calling_expert_analysis",
      step_number: 2,
      next_step_required: false,
      [contract.keys.done]: true,
      [contract.keys.summary]: { steps_taken: 2, relevant_files: ["/repo/cart.py"], issues_found: ISSUES },
      expert_analysis: EXPERT_JSON,
      file_context: { type: "fully_embedded", files_embedded: 1 },
      metadata: { tool_name: contract.tool, model_used: "flash", provider_used: "google" },
      continuation_offer: { remaining_turns: 47 },
    });
    expect(last.json).not.toHaveProperty(contract.keys.required);
    expect(sent).toHaveLength(1);
    const prompt = promptOf(sent[0]!);
    expect(prompt).toContain("[HIGH] total ignores the discount (type: decompose; location: cart.py:2; fix: apply the discount)");
    expect(prompt).toContain("[INFO] total has no docstring");
    expect(prompt).toContain("   2│     return sum(i.price for i in items)");
  });

  it("answers use_assistant_model: false with local_work_complete and next steps to present the findings, calling no model", async () => {
    const sent = mockUpstream();
    const alone = await call(contract.tool, finalStep(contract, { use_assistant_model: false }));
    expect(alone.isError, alone.text).toBe(false);
    expect(alone.json).toMatchObject({ status: "local_work_complete", [contract.keys.done]: true, [contract.keys.summary]: { issues_found: ISSUES } });
    expect(alone.json.next_steps).toContain("present your findings");
    expect(alone.json).not.toHaveProperty("expert_analysis");
    expect(sent).toHaveLength(0);
  });

  it("takes a string where the original's schema has a list of files or context as an empty list", async () => {
    mockUpstream();
    const coerced = await call(contract.tool, { ...contract.example, files_checked: "/repo/cart.py", relevant_context: "total" });
    expect(coerced.isError, coerced.text).toBe(false);
    // relevant_files still counts: files_checked reports every relevant file too.
    expect(coerced.json[contract.keys.progress]).toMatchObject({ files_checked: 1, relevant_context: 0 });
  });

  it("still refuses a field the original's schema does not have", async () => {
    const refused = await call(contract.tool, { ...contract.example, not_a_field: true });
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain("not_a_field");
  });
});

describe.each(CONTRACTS.flatMap((contract) => (contract.skip ? [{ ...contract, skip: contract.skip }] : [])))("$tool: the skip rule", (contract) => {
  it("finishes by the tool's own rule with the original's skip status, calling no model", async () => {
    const sent = mockUpstream();
    const skipped = await call(contract.tool, finalStep(contract, contract.skip.args));
    expect(skipped.isError, skipped.text).toBe(false);
    expect(skipped.json).toMatchObject({
      status: contract.completeStatus,
      [contract.keys.done]: true,
      skip_expert_analysis: true,
      expert_analysis: { status: contract.skip.status },
      [contract.keys.summary]: { steps_taken: 1, issues_found: ISSUES },
    });
    expect(sent).toHaveLength(0);
  });
});

describe("internal review sends nothing out", () => {
  it.each([
    ["codereview", { review_validation_type: "internal" }, "code_review_complete_ready_for_implementation"],
    ["precommit", { precommit_type: "internal", path: "/repo" }, "validation_complete_ready_for_commit"],
  ] as const)("%s internal makes zero upstream calls, also in a thread with earlier turns", async (tool, fields, status) => {
    const sent = mockUpstream(() => "noted");
    const workerEnv = testEnv(GEMINI);
    const chat = await call("chat", { prompt: "We are about to change the cart totals.", model: "flash" }, workerEnv);
    const id = chat.json.continuation_offer.continuation_id as string;
    expect(sent).toHaveLength(1);
    const base = { ...withoutKey(INVESTIGATION, "model"), ...fields, continuation_id: id };
    const paused = await call(tool, base, workerEnv);
    expect(paused.json.continuation_id).toBe(id);
    const done = await call(tool, { ...base, step_number: 2, total_steps: 2, next_step_required: false }, workerEnv);
    expect(done.json).toMatchObject({ status, skip_expert_analysis: true, expert_analysis: { status: "skipped_due_to_internal_analysis_type" } });
    expect(sent).toHaveLength(1);
  });
});

describe("thinkdeep's own keys", () => {
  it("reports thinking_status at every step, and thinking_complete, complete_thinking and completion_message at the end", async () => {
    mockUpstream(() => "Consider caching the discount lookup.");
    const workerEnv = testEnv(GEMINI);
    const args = { ...INVESTIGATION, focus_areas: ["correctness"] };
    const first = await call("thinkdeep", args, workerEnv);
    expect(first.json.thinking_status).toEqual({
      current_step: 1,
      total_steps: 3,
      files_checked: 2,
      relevant_files: 1,
      thinking_confidence: "medium",
      analysis_focus: ["correctness"],
    });
    const last = await call("thinkdeep", { ...args, step_number: 2, next_step_required: false, continuation_id: first.json.continuation_id }, workerEnv);
    expect(last.json).toMatchObject({
      status: "calling_expert_analysis",
      thinking_complete: true,
      complete_thinking: { steps_completed: 2, final_confidence: "medium", files_analyzed: ["/repo/cart.py"], issues_identified: ISSUES },
    });
    expect(last.json.completion_message).toContain("complete");
    const certain = await call("thinkdeep", { ...args, next_step_required: false, confidence: "certain" });
    expect(certain.json.completion_message).toContain("certain confidence");
  });
});

describe("files: paths at paused steps, content when a model is shown them", () => {
  it("records plain absolute paths without the bridge at a pause, and asks for their content only when the expert is asked", async () => {
    const sent = mockUpstream(() => JSON.stringify(EXPERT_JSON));
    const workerEnv = testEnv(GEMINI);
    const step = { ...INVESTIGATION, relevant_files: ["/repo/cart.py"], images: [] };
    const paused = await call("debug", step, workerEnv);
    expect(paused.json).toMatchObject({ status: "pause_for_investigation", investigation_status: { relevant_files: 1 } });
    const id = paused.json.continuation_id as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    // Ending the session without a model needs no content.
    const alone = await call("debug", { ...step, step_number: 2, next_step_required: false, continuation_id: id, use_assistant_model: false }, workerEnv);
    expect(alone.json.status).toBe("local_work_complete");

    // The expert is shown the files: the content is asked for, and nothing of the step is stored meanwhile.
    const asked = await call("debug", { ...step, step_number: 2, next_step_required: false, continuation_id: id, relevant_files: [] }, workerEnv);
    expect(asked.json).toMatchObject({ status: "files_required_to_continue", content_type: "json" });
    expect(JSON.parse(asked.json.content).files_needed).toEqual(["/repo/cart.py"]);
    expect(asked.json.next_steps).toContain(`continuation_id ${id}`);
    expect(sent).toHaveLength(0);

    const answered = await call("debug", { ...step, step_number: 2, next_step_required: false, continuation_id: id, relevant_files: [FILE] }, workerEnv);
    expect(answered.json).toMatchObject({ status: "calling_expert_analysis", complete_investigation: { steps_taken: 2 } });
    expect(promptOf(sent[0]!)).toContain("def total(items):");
    // The thread keeps what the model was shown.
    const thread = await workerEnv.CONVERSATIONS.getByName(`default:${id}`).read();
    expect(thread?.files.map((file) => file.path)).toEqual(["/repo/cart.py"]);
  });

  it("takes relevant_files sent as a string as an empty list, as the original did", async () => {
    mockUpstream();
    const paused = await call("debug", { ...INVESTIGATION, relevant_files: "/repo/cart.py" });
    expect(paused.json).toMatchObject({ status: "pause_for_investigation", investigation_status: { relevant_files: 0 } });
  });

  it("attack: 20 paused debug steps with two 1.9 MB inline files each store no file content", async () => {
    mockUpstream();
    const workerEnv = testEnv(GEMINI);
    const big = (name: string) => ({ path: `/repo/${name}.log`, content: `${name} `.repeat(380_000) });
    const ids: string[] = [];
    for (let n = 0; n < 20; n++) {
      const paused = await call(
        "debug",
        { step: "Why do requests time out?", step_number: 1, total_steps: 2, next_step_required: true, findings: "See the logs", relevant_files: [big("a"), big("b")] },
        workerEnv,
      );
      expect(paused.json.status).toBe("pause_for_investigation");
      ids.push(paused.json.continuation_id as string);
    }
    await deferredWorkDone();
    let stored = 0;
    for (const id of ids) {
      stored += await runInDurableObject(workerEnv.CONVERSATIONS.getByName(`default:${id}`), (_, state) => {
        expect(state.storage.sql.exec("SELECT COUNT(*) AS n FROM files").one()["n"]).toBe(0);
        return state.storage.sql.databaseSize;
      });
    }
    // 76 MB were sent; what is stored is each thread's bookkeeping (its turn, the step state with paths): a few pages.
    expect(stored).toBeLessThan(20 * 64 * 1024);
  });
});

describe("the expert's special replies", () => {
  it("promotes a fenced request for files from a prose reply, with next steps to send them", async () => {
    const request = { status: "files_required_to_continue", mandatory_instructions: "Send the discount rules", files_needed: ["/repo/discounts.py"] };
    mockUpstream(() => "Before I can judge, I need the rules.\n\n```json\n" + JSON.stringify(request) + "\n```\n");
    const answer = await call("debug", finalStep(CONTRACTS[0]!));
    expect(answer.json).toMatchObject({ status: "files_required_to_continue", content_type: "json" });
    expect(JSON.parse(answer.json.content)).toEqual(request);
    expect(answer.json.next_steps).toContain("relevant_files");
    expect(answer.json).not.toHaveProperty("expert_analysis");
  });

  it("promotes a pause with the expert's own next steps, and keeps a markdown answer with an example block whole", async () => {
    const paused = { status: "investigation_paused", reason: "need logs", next_steps: "Collect the checkout logs, then continue." };
    mockUpstream(() => "```json\n" + JSON.stringify(paused) + "\n```");
    const answer = await call("debug", finalStep(CONTRACTS[0]!));
    expect(answer.json).toMatchObject({ status: "investigation_paused", next_steps: paused.next_steps });

    const markdown = "The fix:\n\n```json\n{\"discount\": 0.1}\n```\nApply it in total().";
    mockUpstream(() => markdown);
    const whole = await call("debug", finalStep(CONTRACTS[0]!));
    expect(whole.json).toMatchObject({ status: "calling_expert_analysis", expert_analysis: { status: "analysis_complete", raw_analysis: markdown } });
  });
});

describe("tools without an expert take the original's fields", () => {
  it("planner takes model and use_assistant_model, names them ignored, and answers planner_required", async () => {
    const sent = mockUpstream();
    const step = { step: "Move sessions to Postgres", step_number: 1, total_steps: 3, next_step_required: true, model: "flash", use_assistant_model: true };
    const first = await call("planner", step);
    expect(first.json).toMatchObject({
      status: "pause_for_planning",
      planner_required: true,
      planner_status: { steps_recorded: 1, revisions: 0, branches: [] },
      metadata: { ignored_arguments: { model: expect.stringContaining("changes nothing"), use_assistant_model: expect.any(String) } },
    });
    const last = await call("planner", { ...step, step: "Cut over", step_number: 2, total_steps: 2, next_step_required: false, continuation_id: first.json.continuation_id });
    expect(last.json).toMatchObject({ status: "planning_complete", planning_complete: true });
    expect((await call("planner", { ...step, findings: "x" })).isError).toBe(true);
    expect(sent).toHaveLength(0);
  });

  it("tracer takes model, confidence, images and use_assistant_model, and answers tracer_required", async () => {
    const sent = mockUpstream();
    const step = {
      step: "Trace checkout",
      step_number: 1,
      total_steps: 2,
      next_step_required: true,
      findings: "Entry is POST /checkout",
      target_description: "How a checkout runs",
      trace_mode: "precision",
      model: "flash",
      confidence: "low",
      images: [PIXEL],
      use_assistant_model: false,
    };
    const first = await call("tracer", step);
    expect(first.json).toMatchObject({
      status: "pause_for_tracing",
      tracer_required: true,
      tracer_status: { current_confidence: "low", images_collected: 1 },
      metadata: { ignored_arguments: { model: expect.any(String), use_assistant_model: expect.any(String) } },
    });
    const last = await call("tracer", { ...step, step_number: 2, next_step_required: false, continuation_id: first.json.continuation_id });
    expect(last.json).toMatchObject({ status: "tracing_complete", tracing_complete: true, output: { trace_mode: "precision" } });
    expect((await call("tracer", { ...step, hypothesis: "x" })).isError).toBe(true);
    expect(sent).toHaveLength(0);
  });

  it("docgen takes relevant_context, issues_found and use_assistant_model, and completes with documentation_analysis_complete", async () => {
    const sent = mockUpstream();
    const step = {
      step: "Document cart.py",
      step_number: 1,
      total_steps: 1,
      next_step_required: false,
      findings: "One module",
      relevant_files: [FILE],
      relevant_context: ["total"],
      issues_found: [{ severity: "low", description: "total is undocumented" }],
      use_assistant_model: true,
      document_complexity: true,
      document_flow: true,
      update_existing: true,
      comments_on_complex_logic: true,
      num_files_documented: 1,
      total_files_to_document: 1,
    };
    const done = await call("docgen", step);
    expect(done.json).toMatchObject({
      status: "documentation_analysis_complete",
      documentation_analysis_complete: true,
      documentation_analysis_status: { relevant_context: 1, issues_found: 1 },
      complete_documentation_analysis: { issues_found: step.issues_found },
      metadata: { ignored_arguments: { use_assistant_model: expect.any(String) } },
    });
    const open = await call("docgen", { ...step, num_files_documented: 0 });
    expect(open.json).toMatchObject({ status: "documentation_analysis_required", documentation_analysis_required: true, next_step_required: true });
    expect(open.json).not.toHaveProperty("documentation_analysis_complete");
    expect(open.json).not.toHaveProperty("complete_documentation_analysis");
    expect((await call("docgen", { ...step, model: "flash" })).isError).toBe(true);
    expect(sent).toHaveLength(0);
  });
});

describe("consensus, as the original answered", () => {
  it("gives agent_analysis as an object, labels models model:stance, and captures an unknown model as its own error", async () => {
    const sent = mockUpstream(() => "Verdict: worth it.");
    // Two providers: a name of neither's family is refused (with Gemini alone it would be passed through to it).
    const workerEnv = testEnv({ ...GEMINI, OPENAI_API_KEY: "test-key", OPENAI_BASE_URL: "https://openai.test/v1" });
    const args = {
      step: "Move the job queue to Postgres",
      step_number: 1,
      total_steps: 2,
      next_step_required: true,
      findings: "Postgres is already a dependency.",
      models: [
        { model: "flash", stance: "for" },
        { model: "no-such-model", stance: "against" },
      ],
      relevant_files: [FILE],
      images: [],
      use_assistant_model: true,
    };
    const first = await call("consensus", args, workerEnv);
    expect(first.json).toMatchObject({
      status: "analysis_and_first_model_consulted",
      agent_analysis: { initial_analysis: args.step, findings: args.findings },
      model_response: { status: "success", model: "flash" },
      metadata: { models_to_consult: ["flash:for", "no-such-model:against"], ignored_arguments: { use_assistant_model: expect.any(String) } },
    });
    const id = first.json.continuation_id as string;
    const last = await call("consensus", { step: "Noted.", step_number: 2, total_steps: 2, next_step_required: false, findings: "", continuation_id: id }, workerEnv);
    expect(last.isError, last.text).toBe(false);
    expect(last.json).toMatchObject({
      status: "consensus_workflow_complete",
      consensus_complete: true,
      model_response: { status: "error", model: "no-such-model", error: expect.stringContaining("no-such-model") },
      complete_consensus: { models_consulted: ["flash:for", "no-such-model:against"], total_responses: 2 },
      metadata: { models_consulted: ["flash:for", "no-such-model:against"] },
    });
    expect(sent).toHaveLength(1);
    // The file the first model was shown is what the thread keeps.
    const thread = await workerEnv.CONVERSATIONS.getByName(`default:${id}`).read();
    expect(thread?.files.map((file) => file.path)).toEqual(["/repo/cart.py"]);
  });
});
