import { defineWorkflowTool } from "./engine/spec";
import { DEBUG_PROMPT } from "./prompts/debug";
import { actionsByConfidence } from "./engine/actions";

export const debug = defineWorkflowTool({
  name: "debug",
  title: "Debug: root-cause investigation",
  description:
    "Root-cause investigation of bugs, crashes, flaky or slow behaviour, in steps; at the end another model checks your findings.",
  noun: "investigation",
  keys: { required: "investigation_required" },
  extra: {},
  requiredActions: actionsByConfidence({
    first: [
      "Find the code paths involved in the failure and read them",
      "Reproduce the issue, or collect the exact error, stack trace and inputs",
      "Note when it started and what changed (commits, dependencies, configuration)",
    ],
    exploring: [
      "Trace the data and control flow through the suspect code",
      "Check the assumptions of your current hypothesis against the code",
      "Look for related errors, race conditions, state or configuration issues",
    ],
    confirming: [
      "Find the exact line where the behaviour diverges, and prove it (log, test, minimal reproduction)",
      "Rule out the competing hypotheses with evidence",
    ],
    finishing: ["Confirm the root cause explains every symptom", "Outline the minimal fix and how to verify it"],
  }),
  skip: {
    applies: (args) => args.confidence === "certain",
    status: "skipped_due_to_certain_confidence",
    reason: "The agent is certain of the root cause and its minimal fix: no outside check was made.",
  },
  completeStatus: "certain_confidence_proceed_with_fix",
  statusDetails: ({ consolidated }) => ({ hypotheses_formed: consolidated.hypotheses.length }),
  expert: {
    systemPrompt: DEBUG_PROMPT,
    requestHeading: "ISSUE DESCRIPTION",
    filesHeading: "ESSENTIAL FILES FOR DEBUGGING",
    instruction: "Analyse the investigation above and the files, then reply in the JSON format of your instructions.",
  },
  nextSteps: (_args, withExpert) =>
    withExpert
      ? "Weigh the expert's hypotheses against your evidence, confirm the root cause in the code, then implement the minimal fix and verify it."
      : "Your investigation is complete: implement the minimal fix for the root cause you found, then verify it with a test or a reproduction.",
});
