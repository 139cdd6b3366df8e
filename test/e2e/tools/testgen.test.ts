/**
 * testgen end to end: the real worker under `wrangler dev`, the fake upstream as the expert, the
 * official SDK client.
 */
import { describe, expect, it } from "vitest";
import { callTool, connectMcp, useMcpEnvironment } from "../../support/mcp-session.ts";

const env = useMcpEnvironment();

const PARSER = {
  path: "/app/config.ts",
  content: "export function parseConfig(text: string) {\n  return JSON.parse(text);\n}\n",
};
const EXISTING_TEST = { path: "/app/config.test.ts", content: 'import { it } from "vitest";\n' };

/** A markdown answer whose test needs a JSON fixture: it must reach the agent whole. */
const TESTS_REPLY = [
  "## Test plan",
  "- rejects malformed JSON: parseConfig throws on a truncated document (config.ts:2)",
  "## Tests",
  "Fixture /app/fixtures/config.json:",
  "```json",
  '{"port": 8080}',
  "```",
  "/app/config.test.ts:",
  "```ts",
  'it("rejects malformed JSON", () => expect(() => parseConfig("{")).toThrow());',
  "```",
  "## Notes",
  "None.",
].join("\n");

function step(n: number, total: number, more: boolean, extra: Record<string, unknown> = {}) {
  return { step: `Test step ${n}`, step_number: n, total_steps: total, next_step_required: more, findings: `finding ${n}`, model: "flash", ...extra };
}

describe("testgen: a full test analysis", () => {
  it("pauses between steps, resumes on a new connection, and returns the expert's tests whole", async () => {
    const first = await env.call("testgen", step(1, 2, true, { relevant_files: [PARSER, EXISTING_TEST] }));
    expect(first.isError).toBe(false);
    expect(first.json).toMatchObject({
      status: "pause_for_test_analysis",
      testgen_required: true,
      test_generation_status: { relevant_files: 2, current_confidence: "low" },
      metadata: { tool_name: "testgen" },
    });
    expect(first.json?.required_actions.join(" ")).toContain("existing test file");
    const id: string = first.json?.continuation_id;
    expect(env.upstream.requests()).toHaveLength(0);

    env.upstream.fault({ replyText: TESTS_REPLY });
    const other = await connectMcp(env.worker.mcpUrl);
    // Without the bridge step 1 kept only the paths: the final step, which shows the files to the expert, sends them again.
    const last = await callTool(other, "testgen", step(2, 2, false, { continuation_id: id, confidence: "high", relevant_files: [PARSER, EXISTING_TEST] }));
    await other.close();
    expect(last.isError).toBe(false);
    expect(last.json).toMatchObject({
      status: "calling_expert_analysis",
      continuation_id: id,
      test_generation_complete: true,
      complete_test_generation: { steps_taken: 2, relevant_files: ["/app/config.ts", "/app/config.test.ts"] },
      metadata: { tool_name: "testgen", model_used: "flash" },
    });
    // The JSON fixture inside the answer does not replace the answer.
    expect(last.json?.expert_analysis).toEqual({
      status: "analysis_complete",
      raw_analysis: TESTS_REPLY,
      format: "text",
      note: "Analysis provided in plain text format",
    });

    const sent = JSON.stringify(env.upstream.requests().at(-1)?.body);
    for (const n of [1, 2]) expect(sent).toContain(`Step ${n}: finding ${n}`);
    expect(sent).toContain("=== TEST GENERATION REQUEST ===\\nTest step 1");
    expect(sent).toContain("=== CODE TO TEST ===");
    expect(sent).toContain("   2│   return JSON.parse(text);");
    expect(sent).toContain('   1│ import { it } from \\"vitest\\";');
    expect(sent).toContain("edge cases");
  });

  it("skips the expert when the agent is certain, and finishes locally when use_assistant_model is false", async () => {
    const certain = await env.call("testgen", step(1, 1, false, { relevant_files: [PARSER], confidence: "certain" }));
    expect(certain.json).toMatchObject({
      status: "test_generation_complete_ready_for_implementation",
      skip_expert_analysis: true,
      expert_analysis: { status: "skipped_due_to_certain_test_confidence" },
      complete_test_generation: { confidence_level: "certain" },
    });
    const alone = await env.call("testgen", step(1, 1, false, { relevant_files: [PARSER], confidence: "high", use_assistant_model: false }));
    expect(alone.json).toMatchObject({ status: "local_work_complete", test_generation_complete: true });
    expect(env.upstream.requests()).toHaveLength(0);
  });

  it("promotes the expert's request for an existing test file", async () => {
    const request = { status: "files_required_to_continue", mandatory_instructions: "Send a test file", files_needed: ["/app/x.test.ts"] };
    env.upstream.fault({ replyText: "```json\n" + JSON.stringify(request) + "\n```" });
    const paused = await env.call("testgen", step(1, 1, false, { relevant_files: [PARSER] }));
    expect(paused.json?.status).toBe("files_required_to_continue");
    expect(paused.json?.content).toContain(JSON.stringify(request));
    expect(paused.json?.expert_analysis).toBeUndefined();
  });

  it("refuses a first step without the code to test", async () => {
    const bare = await env.call("testgen", step(1, 1, false, { files_checked: ["/app/config.ts"] }));
    expect(bare.isError).toBe(true);
    expect(bare.json).toMatchObject({ status: "testgen_failed", step_number: 1 });
    expect(bare.json?.error).toContain("relevant_files");
    expect(env.upstream.requests()).toHaveLength(0);
  });
});
