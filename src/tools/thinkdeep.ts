import { z } from "zod";
import { actionsByConfidence } from "./engine/actions";
import { defineWorkflowTool, type StepSession, type WorkflowArgs } from "./engine/spec";
import { THINKDEEP_PROMPT } from "./prompts/thinkdeep";

const extra = {
  problem_context: z.string().optional(),
  focus_areas: z.array(z.string()).optional(),
};
type Session = StepSession<WorkflowArgs<typeof extra>>;

/** The original's `thinking_status`, reported at every step. */
function thinkingStatus({ args, state, consolidated: c }: Session) {
  return {
    thinking_status: {
      current_step: args.step_number,
      total_steps: state.totalSteps,
      files_checked: c.filesChecked.length,
      relevant_files: c.relevantFiles.length,
      thinking_confidence: c.confidence,
      analysis_focus: args.focus_areas?.length ? args.focus_areas : ["general"],
    },
  };
}

/** The original's account of a finished session of thinking, besides the engine's. */
function thinkingComplete(session: Session) {
  const { args, state, consolidated: c } = session;
  return {
    ...thinkingStatus(session),
    thinking_complete: true,
    complete_thinking: {
      steps_completed: state.steps.length,
      final_confidence: c.confidence,
      relevant_context: c.relevantContext,
      key_findings: c.findings,
      issues_identified: c.issues,
      files_analyzed: c.relevantFiles,
    },
    completion_message:
      args.confidence === "certain"
        ? "The thinking is complete with certain confidence: its conclusions stand without another model's check."
        : "The thinking is complete: weigh another model's view of it (expert_analysis, when there is one) before deciding.",
  };
}

export const thinkdeep = defineWorkflowTool({
  name: "thinkdeep",
  title: "Think deeper with a second model",
  description:
    "Reason in steps about a hard problem (architecture, trade-offs, plans); another model then extends and challenges your conclusions.",
  noun: "thinkdeep",
  extra,
  requiredActions: actionsByConfidence({
    first: ["State the problem, constraints and success criteria", "Gather the code and facts the question depends on"],
    exploring: ["Explore alternative approaches and their trade-offs", "Test your assumptions against the code"],
    confirming: ["Look for failure modes and edge cases of the leading option", "Check it against the constraints"],
    finishing: ["Summarize the conclusion, its risks and the next concrete steps"],
  }),
  skip: {
    applies: (args) => args.confidence === "certain",
    status: "skipped_due_to_certain_thinking_confidence",
    reason: "The agent is certain of its conclusions: no outside check was made.",
  },
  completeStatus: "deep_thinking_complete_ready_for_implementation",
  onPause: thinkingStatus,
  onComplete: thinkingComplete,
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
