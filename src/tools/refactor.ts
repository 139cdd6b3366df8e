import { z } from "zod";
import { actionsByConfidence } from "./engine/actions";
import { countBy } from "./engine/severity";
import { defineWorkflowTool } from "./engine/spec";
import { REFACTOR_PROMPT } from "./prompts/refactor";

/** Refactor's own confidence scale: how complete the search for opportunities is. */
const REFACTOR_CONFIDENCE = ["exploring", "incomplete", "partial", "complete"] as const;

export const refactor = defineWorkflowTool({
  name: "refactor",
  title: "Refactor: a refactoring plan",
  description:
    "Find refactorings in steps (code smells, decomposition, modernization, organization); another model returns a prioritized, line-exact plan.",
  noun: "refactoring_analysis",
  keys: { progress: "refactoring_status", summary: "complete_refactoring", done: "refactoring_complete" },
  extra: {
    // Replaces the shared scale; the original's default applies when the agent sends none.
    confidence: z
      .enum(REFACTOR_CONFIDENCE)
      .optional()
      .transform((level) => level ?? "incomplete"),
    refactor_type: z.enum(["codesmells", "decompose", "modernize", "organization"]).optional(),
    focus_areas: z.array(z.string()).optional(),
    style_guide_examples: z.array(z.string()).optional(),
  },
  check: (args) =>
    args.step_number === 1 && (args.relevant_files ?? []).length === 0
      ? "Step 1 of refactor needs relevant_files: the code to refactor (absolute paths, sha256 references or {path, content})."
      : undefined,
  requiredActions: actionsByConfidence({
    first: [
      "Read the code to refactor completely; note its size, structure and responsibilities",
      "Find what protects its behaviour: tests, types, callers",
      "Include the style_guide_examples in relevant_files, if any, so the expert model sees the house style",
    ],
    exploring: [
      "Examine the remaining files and functions for opportunities of the refactor type",
      "Note each opportunity's exact lines and the changes it depends on",
    ],
    confirming: ["Check that each change keeps behaviour and what it would touch", "Order the changes so each is safe on its own"],
    finishing: ["Confirm the opportunities cover the requested scope", "Rank them by value and risk"],
  }),
  skip: {
    applies: (args) => args.confidence === "complete",
    status: "skipped_due_to_complete_refactoring_confidence",
    reason: "The agent's search for refactorings is complete: no outside check was made.",
  },
  completeStatus: "refactoring_analysis_complete_ready_for_implementation",
  statusDetails: ({ consolidated }) => ({ opportunities_by_type: countBy(consolidated.issues, "type") }),
  expert: {
    systemPrompt: REFACTOR_PROMPT,
    requestHeading: "REFACTORING REQUEST",
    filesHeading: "CODE TO REFACTOR",
    sections: (args) => [
      "=== REFACTOR TYPE ===",
      args.refactor_type ?? "codesmells",
      "",
      ...(args.focus_areas?.length ? ["=== FOCUS AREAS ===", args.focus_areas.join(", "), ""] : []),
      ...(args.style_guide_examples?.length
        ? ["=== STYLE GUIDE EXAMPLES ===", "Files showing the house style (examples, not refactoring targets):", ...args.style_guide_examples, ""]
        : []),
    ],
    instruction: "Find the refactoring opportunities in the code above and reply in the JSON format of your instructions.",
  },
  nextSteps: (_args, withExpert) =>
    withExpert
      ? "Check each opportunity against the code, then implement them in the priority_sequence, running the tests after each."
      : "Your refactoring analysis is complete: implement the changes in order of priority, running the tests after each.",
});
