import { z } from "zod";
import type { StepRecord } from "./engine/steps";
import { defineWorkflowTool } from "./engine/spec";
import { DEEP_THINKING, PLAN_PRESENTATION } from "./prompts/planner";

const extra = {
  is_step_revision: z.boolean().optional(),
  revises_step_number: z.number().int().min(1).optional(),
  is_branch_point: z.boolean().optional(),
  branch_from_step: z.number().int().min(1).optional(),
  branch_id: z.string().optional(),
  more_steps_needed: z.boolean().optional(),
};
type PlanFields = Partial<z.infer<z.ZodObject<typeof extra>>>;

interface PlanStep {
  step_number: number;
  step: string;
  revised_in_step?: number;
}

/** The plan as it stands: main-line steps in order, each revision applied to the step it revises, branches apart. */
function planOf(records: StepRecord[]) {
  const byNumber = new Map<number, PlanStep>();
  const steps: PlanStep[] = [];
  const branches = new Map<string, { branch_id: string; from_step?: number; steps: PlanStep[] }>();
  for (const record of records) {
    const fields = record.extra as PlanFields;
    const revised = fields.is_step_revision ? byNumber.get(fields.revises_step_number ?? 0) : undefined;
    if (revised) {
      Object.assign(revised, { step: record.step, revised_in_step: record.stepNumber });
      // A later revision of this revision revises the same plan step.
      byNumber.set(record.stepNumber, revised);
      continue;
    }
    const entry: PlanStep = { step_number: record.stepNumber, step: record.step };
    byNumber.set(record.stepNumber, entry);
    if (!fields.branch_id) {
      steps.push(entry);
      continue;
    }
    const branch = branches.get(fields.branch_id) ?? { branch_id: fields.branch_id, steps: [] };
    if (fields.is_branch_point && fields.branch_from_step) branch.from_step ??= fields.branch_from_step;
    branch.steps.push(entry);
    branches.set(fields.branch_id, branch);
  }
  return { steps, branches: [...branches.values()] };
}

export const planner = defineWorkflowTool({
  name: "planner",
  title: "Planner: build a plan step by step",
  description:
    "Build a plan for a complex task one step at a time, revising steps and branching into alternatives; you do the thinking, no model is called.",
  noun: "planning",
  keys: { progress: "planner_status" },
  investigates: false,
  acceptsModel: true,
  extra,
  perStep: ["is_step_revision", "revises_step_number", "is_branch_point", "branch_from_step", "branch_id", "more_steps_needed"],
  check: (args) => {
    if (args.is_step_revision && !(args.revises_step_number && args.revises_step_number < args.step_number)) {
      return `is_step_revision needs revises_step_number: the earlier step (below ${args.step_number}) this step replaces.`;
    }
    if (args.is_branch_point && !(args.branch_id && args.branch_from_step && args.branch_from_step < args.step_number)) {
      return `is_branch_point needs branch_id (the branch's name) and branch_from_step (an earlier step than ${args.step_number}).`;
    }
    if (args.step_number === 1 && (args.branch_id || args.revises_step_number || args.branch_from_step || args.more_steps_needed)) {
      return "Step 1 starts the plan: it is on no branch and revises nothing. Send branch and revision fields from step 2 on, and put your estimate in total_steps.";
    }
    if (args.more_steps_needed && !args.next_step_required) {
      return "more_steps_needed is true, so this is not the last step: set next_step_required to true and raise total_steps.";
    }
    return undefined;
  },
  requiredActions: (args) =>
    args.step_number === 1
      ? ["Define the goal, its scope and what done looks like", "List the constraints the plan must respect", "Sketch the main phases before detailing any"]
      : [
          "Write the next step concretely: what is done and what it depends on",
          "Check that the earlier steps still hold; revise one (is_step_revision, revises_step_number) when it does not",
          "Open a branch (is_branch_point, branch_from_step, branch_id) when an alternative deserves its own steps",
        ],
  statusDetails: ({ state }) => ({
    steps_recorded: state.steps.length,
    revisions: state.steps.filter((s) => (s.extra as PlanFields).is_step_revision).length,
    branches: planOf(state.steps).branches.map((b) => b.branch_id),
  }),
  onPause: ({ args, state }) => {
    const deep = state.totalSteps >= 5 && args.step_number <= 3;
    return {
      ...(deep ? { status: "pause_for_deep_thinking", required_thinking: DEEP_THINKING[args.step_number - 1] } : {}),
      next_steps:
        (deep ? "MANDATORY: before calling planner again, think through every question of required_thinking. " : "") +
        `Then call planner with step_number ${args.step_number + 1} of ${Math.max(state.totalSteps, args.step_number + 1)} ` +
        "(raise total_steps when the plan grows), the next step of the plan as step, and this continuation_id.",
    };
  },
  completeStatus: "planning_complete",
  onComplete: ({ state }) => ({ plan_summary: planOf(state.steps), output: { instructions: PLAN_PRESENTATION } }),
  nextSteps: () => "The plan is complete: present it to the user as output.instructions says, then ask whether to start its first step.",
});
