import { actionsByConfidence } from "./engine/actions";
import { defineWorkflowTool } from "./engine/spec";
import { TESTGEN_PROMPT } from "./prompts/testgen";

export const testgen = defineWorkflowTool({
  name: "testgen",
  title: "Testgen: tests for edge cases and failure modes",
  description:
    "Plan tests for code in steps; another model then writes them in your project's framework, covering edge cases and failure modes.",
  noun: "test_analysis",
  keys: { progress: "test_generation_status", summary: "complete_test_generation", done: "test_generation_complete" },
  extra: {},
  check: (args) =>
    args.step_number === 1 && (args.relevant_files ?? []).length === 0
      ? "Step 1 of testgen needs relevant_files: the code to test (absolute paths, sha256 references or {path, content})."
      : undefined,
  requiredActions: actionsByConfidence({
    first: [
      "Read the code under test and list its public behaviour",
      "Find how the project tests (framework, helpers, fixtures, naming) and add an existing test file to relevant_files",
      "Note each function's inputs, dependencies and error paths",
    ],
    exploring: [
      "Trace the branches and boundaries of each function (empty, limits, invalid input)",
      "Find the failure modes: failing dependencies, timeouts, concurrency, resource limits",
    ],
    confirming: ["List the test cases, each named by what it proves", "Check which behaviour existing tests already cover"],
    finishing: ["Confirm the plan covers the main paths, the edge cases and the failure modes"],
  }),
  skip: {
    applies: (args) => args.confidence === "certain",
    status: "skipped_due_to_certain_test_confidence",
    reason: "The agent is certain of its test plan: no outside check was made.",
  },
  completeStatus: "test_generation_complete_ready_for_implementation",
  expert: {
    systemPrompt: TESTGEN_PROMPT,
    requestHeading: "TEST GENERATION REQUEST",
    filesHeading: "CODE TO TEST",
    instruction: "Write the test plan and the tests for the code above, in the output format of your instructions.",
    callWhen: (_args, c) => c.relevantFiles.length > 0 || c.findings.length > 0,
  },
  nextSteps: (_args, withExpert) =>
    withExpert
      ? "Check the expert's tests against the code, add them to the project, run them, and fix what fails for a wrong test (not by weakening it)."
      : "Your test analysis is complete: write the tests you planned in the project's framework, run them, and report what they found.",
});
