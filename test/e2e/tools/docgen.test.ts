/**
 * docgen end to end: the real worker under `wrangler dev`, the official SDK client, and the fake
 * upstream only to prove that documenting never calls a model.
 */
import { describe, expect, it } from "vitest";
import { callTool, connectMcp, useMcpEnvironment } from "../../support/mcp-session.ts";

const env = useMcpEnvironment();

function step(n: number, total: number, more: boolean, documented: number, files: number, extra: Record<string, unknown> = {}) {
  return {
    step: `Documentation step ${n}`,
    step_number: n,
    total_steps: total,
    next_step_required: more,
    findings: `doc finding ${n}`,
    num_files_documented: documented,
    total_files_to_document: files,
    ...extra,
  };
}

describe("docgen: the advertised tool", () => {
  it("has no model or model settings, takes the original's other fields, requires the two counters and leaves the options optional", async () => {
    const { tools } = await env.client.listTools();
    const docgen = tools.find((tool) => tool.name === "docgen");
    expect(docgen).toBeDefined();
    const properties = Object.keys(docgen?.inputSchema.properties ?? {});
    expect(properties).toEqual(
      expect.arrayContaining([
        "document_complexity",
        "document_flow",
        "update_existing",
        "comments_on_complex_logic",
        "relevant_files",
        "relevant_context",
        "issues_found",
        "use_assistant_model",
      ]),
    );
    for (const absent of ["model", "temperature", "thinking_mode", "confidence", "hypothesis", "images", "files_checked"]) {
      expect(properties).not.toContain(absent);
    }
    expect(docgen?.inputSchema.required).toEqual(
      expect.arrayContaining(["num_files_documented", "total_files_to_document", "findings"]),
    );
    expect(docgen?.inputSchema.required).not.toContain("document_complexity");
    expect(docgen?.annotations?.openWorldHint).toBe(false);
  });
});

describe("docgen: documenting three files", () => {
  it("guides one file per step, raises total_steps to one per file, refuses to finish early, and completes without any model", async () => {
    const first = await env.call("docgen", step(1, 2, true, 0, 0, { document_complexity: false }));
    expect(first.isError).toBe(false);
    expect(first.json).toMatchObject({
      status: "pause_for_documentation_analysis",
      step_number: 1,
      total_steps: 2,
      documentation_analysis_required: true,
      documentation_analysis_status: { relevant_files: 0 },
    });
    expect(first.json).not.toHaveProperty("total_steps_note");
    expect(first.json?.documentation_analysis_status).not.toHaveProperty("current_confidence");
    const firstActions: string = first.json?.required_actions.join("\n");
    expect(firstActions).toContain("total_files_to_document");
    expect(firstActions).toContain("every function, method and class");
    expect(first.json?.next_steps).toContain("num_files_documented 1");
    expect(first.json?.metadata).toEqual({ tool_name: "docgen" });
    const id: string = first.json?.continuation_id;

    // Discovery found three files: the estimate of 2 steps is raised to 1 + 3, and the response says so.
    const other = await connectMcp(env.worker.mcpUrl);
    const utils = { path: "/app/utils.py", content: "def add(a, b):\n    return a + b\n" };
    const second = await callTool(other, "docgen", step(2, 2, true, 1, 3, { continuation_id: id, relevant_files: [utils] }));
    await other.close();
    expect(second.json).toMatchObject({ status: "pause_for_documentation_analysis", step_number: 2, total_steps: 4, continuation_id: id });
    expect(second.json?.total_steps_note).toContain("raised from 2 to 4");
    expect(second.json?.next_steps).toContain("step_number 3 of 4");
    // document_complexity: false from step 1 holds for the whole session; the other options default to true.
    const actions: string = second.json?.required_actions.join("\n");
    expect(actions).not.toContain("complexity");
    expect(actions).toContain("call flow");
    expect(actions).toContain("Comment complex logic");
    expect(actions).toContain("Correct existing documentation");
    expect(actions).toContain("existing documentation style");
    expect(actions).not.toContain("total_files_to_document");

    // Claiming to be done with a file still undocumented keeps the session open, as a status, not an error.
    const early = await env.call("docgen", step(3, 3, false, 2, 3, { continuation_id: id }));
    expect(early.isError).toBe(false);
    expect(early.json).toMatchObject({ status: "documentation_analysis_required", step_number: 3, total_steps: 4, next_step_required: true });
    expect(early.json?.message).toContain("incomplete");
    expect(early.json?.message).toContain("2 of 3");
    expect(early.json?.message).toContain("must continue");
    expect(early.json?.required_actions.join("\n")).toContain("every function, method and class");
    expect(early.json?.next_steps).toContain("step_number 4 of 4");
    expect(early.json).not.toHaveProperty("complete_documentation_analysis");
    expect(early.json).not.toHaveProperty("documentation_analysis_complete");
    expect(early.json).not.toHaveProperty("summary");

    const last = await env.call("docgen", step(4, 4, false, 3, 3, { continuation_id: id }));
    expect(last.isError).toBe(false);
    expect(last.json).toMatchObject({
      status: "documentation_analysis_complete",
      documentation_analysis_complete: true,
      step_number: 4,
      total_steps: 4,
      next_step_required: false,
      complete_documentation_analysis: {
        steps_taken: 4,
        relevant_files: ["/app/utils.py"],
        work_summary: "Step 1: doc finding 1\nStep 2: doc finding 2\nStep 3: doc finding 3\nStep 4: doc finding 4",
      },
    });
    expect(last.json?.complete_documentation_analysis).not.toHaveProperty("confidence_level");
    expect(last.json?.summary).toContain("All 3 files are documented");
    expect(last.json?.next_steps).toContain("Documentation is complete");
    expect(last.json).not.toHaveProperty("expert_analysis");
    expect(last.json?.metadata).toEqual({ tool_name: "docgen" });

    expect(env.upstream.requests()).toHaveLength(0);
  });

  it("follows update_existing: false and the other options turned off", async () => {
    const options = { document_flow: false, comments_on_complex_logic: false, update_existing: false };
    const first = await env.call("docgen", step(1, 3, true, 0, 2, options));
    const actions: string = first.json?.required_actions.join("\n");
    expect(actions).toContain("Leave existing documentation as it is");
    expect(actions).not.toContain("call flow");
    expect(actions).not.toContain("Comment complex logic");
    expect(actions).toContain("complexity");
    expect(env.upstream.requests()).toHaveLength(0);
  });

  it("completes at once when nothing is left to document", async () => {
    const only = await env.call("docgen", step(1, 1, false, 0, 0));
    expect(only.json).toMatchObject({ status: "documentation_analysis_complete", complete_documentation_analysis: { steps_taken: 1 } });
    expect(env.upstream.requests()).toHaveLength(0);
  });
});

describe("docgen: validation", () => {
  it("refuses more files documented than to document, and missing counters, storing nothing", async () => {
    const over = await env.call("docgen", step(1, 2, true, 3, 2));
    expect(over.isError).toBe(true);
    expect(over.json).toMatchObject({ status: "docgen_failed", metadata: { tool_name: "docgen" } });
    expect(over.json?.error).toContain("num_files_documented (3) cannot exceed total_files_to_document (2)");
    expect(over.json).not.toHaveProperty("continuation_id");

    const { num_files_documented: _omitted, ...withoutCount } = step(1, 2, true, 0, 2);
    const missing = await env.call("docgen", withoutCount);
    expect(missing.isError).toBe(true);
    expect(missing.text).toContain("num_files_documented");

    for (const extra of [{ model: "flash" }, { thinking_mode: "high" }, { confidence: "high" }]) {
      const refused = await env.call("docgen", step(1, 2, true, 0, 2, extra));
      expect(refused.isError).toBe(true);
      expect(refused.text).toContain(Object.keys(extra)[0]);
    }
    expect(env.upstream.requests()).toHaveLength(0);
  });
});
