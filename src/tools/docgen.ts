import { z } from "zod";
import { defineWorkflowTool, type StepSession, type WorkflowArgs } from "./engine/spec";

const extra = {
  document_complexity: z.boolean().optional(),
  document_flow: z.boolean().optional(),
  update_existing: z.boolean().optional(),
  comments_on_complex_logic: z.boolean().optional(),
  num_files_documented: z.number().int().min(0),
  total_files_to_document: z.number().int().min(0),
};
type DocgenArgs = WorkflowArgs<typeof extra>;

/** One discovery step, then one step per file: the agent's estimate is raised to it, and told so. */
function stepCount({ args, state }: StepSession<DocgenArgs>) {
  const needed = 1 + args.total_files_to_document;
  if (state.totalSteps >= needed) return { total_steps: state.totalSteps };
  return {
    total_steps: needed,
    total_steps_note: `total_steps raised from ${state.totalSteps} to ${needed}: one discovery step plus one step per file (${args.total_files_to_document}).`,
  };
}

function nextCall(session: StepSession<DocgenArgs>, total: number): string {
  const { args } = session;
  return (
    `Document the next file completely now, following required_actions, then call docgen with step_number ${args.step_number + 1} ` +
    `of ${Math.max(total, args.step_number + 1)}, total_files_to_document (every file in scope), num_files_documented ` +
    `${args.num_files_documented + 1} and this continuation_id.`
  );
}

/** What documenting one file means, with the session's options (all true unless set false). */
function perFile(args: DocgenArgs): string[] {
  return [
    "Take the next undocumented file and document it completely before moving on: every function, method and class",
    ...(args.document_complexity === false ? [] : ["Add time and space complexity where it is not obvious"]),
    ...(args.document_flow === false ? [] : ["Note the call flow: what each function calls and what calls it"]),
    ...(args.comments_on_complex_logic === false ? [] : ["Comment complex logic inline: why it works, not what it does"]),
    args.update_existing === false
      ? "Leave existing documentation as it is; add only what is missing"
      : "Correct existing documentation that is wrong or out of date",
    "Keep the file's existing documentation style, and change no code",
  ];
}

/** After step 1, the discovery of the files; then one file per step. */
function actions(args: DocgenArgs): string[] {
  const discovery = [
    "List every file in scope that needs documentation; send their number as total_files_to_document",
    "Note the project's documentation style (docstring format, comment conventions) to follow it",
  ];
  return args.step_number === 1 ? [...discovery, ...perFile(args)] : perFile(args);
}

export const docgen = defineWorkflowTool({
  name: "docgen",
  title: "Docgen: document code",
  description:
    "Document code one file at a time (function and class docs, complexity, call flow), in steps you do yourself; no model is called.",
  noun: "documentation_analysis",
  keys: { required: "documentation_analysis_required" },
  // Progress is counted in files documented: no confidence or hypotheses, and no model sees images.
  investigates: ["findings", "relevant_files", "relevant_context", "issues_found"],
  extra,
  check: (args) =>
    args.num_files_documented > args.total_files_to_document
      ? `num_files_documented (${args.num_files_documented}) cannot exceed total_files_to_document (${args.total_files_to_document}).`
      : undefined,
  requiredActions: actions,
  onPause: (session) => {
    const count = stepCount(session);
    return { ...count, next_steps: nextCall(session, count.total_steps) };
  },
  completeStatus: "documentation_analysis_complete",
  // A last step with files left is not an error, and not the end: the session stays open.
  keepOpen: (session) => {
    const { args } = session;
    const left = args.total_files_to_document - args.num_files_documented;
    if (left <= 0) return undefined;
    const count = stepCount(session);
    return {
      status: "documentation_analysis_required",
      ...count,
      next_step_required: true,
      documentation_analysis_required: true,
      required_actions: perFile(args),
      message: `Documentation is incomplete: ${args.num_files_documented} of ${args.total_files_to_document} files are documented. You must continue until all ${left} remaining files are documented.`,
      next_steps: nextCall(session, count.total_steps),
    };
  },
  onComplete: ({ args, state }) => ({ summary: `All ${args.total_files_to_document} files are documented, in ${state.steps.length} steps.` }),
  nextSteps: () => "Documentation is complete: tell the user which files you documented and what you added to each.",
});
