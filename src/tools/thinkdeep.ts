import { z } from "zod";
import { actionsByConfidence } from "./engine/actions";
import { defineWorkflowTool } from "./engine/workflow";
import { THINKDEEP_PROMPT } from "./prompts/thinkdeep";

export const thinkdeep = defineWorkflowTool({
  name: "thinkdeep",
  title: "Think deeper with a second model",
  description:
    "Reason in steps about a hard problem (architecture, trade-offs, plans); another model then extends and challenges your conclusions.",
  noun: "thinkdeep",
  extra: {
    problem_context: z.string().optional(),
    focus_areas: z.array(z.string()).optional(),
  },
  requiredActions: actionsByConfidence({
    first: ["State the problem, constraints and success criteria", "Gather the code and facts the question depends on"],
    exploring: ["Explore alternative approaches and their trade-offs", "Test your assumptions against the code"],
    confirming: ["Look for failure modes and edge cases of the leading option", "Check it against the constraints"],
    finishing: ["Summarize the conclusion, its risks and the next concrete steps"],
  }),
  skipExpert: (args) => args.confidence === "certain",
  completeStatus: "deep_thinking_complete_ready_for_implementation",
  expert: {
    systemPrompt: THINKDEEP_PROMPT,
    requestHeading: "PROBLEM",
    sections: (args) => [
      ...(args.problem_context ? ["=== PROBLEM CONTEXT ===", args.problem_context, ""] : []),
      ...(args.focus_areas?.length ? ["=== FOCUS AREAS ===", args.focus_areas.join(", "), ""] : []),
    ],
    instruction: "Extend and challenge the reasoning above, in the output format of your instructions.",
    callWhen: () => true,
    thinkingMode: (ctx) => ctx.config.defaultThinkingModeThinkdeep,
  },
  nextSteps: (_args, withExpert) =>
    withExpert
      ? "Combine the other model's points with your own reasoning, decide, and present the conclusion and its next steps to the user."
      : "Your reasoning is complete: present the conclusion, its risks and the next steps to the user.",
});
