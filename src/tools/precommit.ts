import { z } from "zod";
import { isAbsolutePath } from "../files/references";
import { actionsByConfidence } from "./engine/actions";
import { promptSection } from "./engine/expert";
import { hasWorkForExpert } from "./engine/protocol";
import { severityFilterField, severityFilterSection } from "./engine/severity";
import { defineWorkflowTool, type WorkflowArgs } from "./engine/spec";
import { PRECOMMIT_PROMPT } from "./prompts/precommit";

const extra = {
  precommit_type: z.enum(["external", "internal"]).optional(),
  path: z.string().optional(),
  compare_to: z.string().optional(),
  include_staged: z.boolean().optional(),
  include_unstaged: z.boolean().optional(),
  focus_on: z.string().optional(),
  severity_filter: severityFilterField.optional(),
};
type Args = WorkflowArgs<typeof extra>;

// Both end up in git commands the agent runs: no shell syntax, no option in place of a ref.
const SHELL_SYNTAX = /[\0-\x1f`$;|&<>]/;
const GIT_REF = /^(?!-)[\w./@{}^~+#-]{1,200}$/;

function problemOf(args: Args): string | undefined {
  if (args.step_number === 1 && !args.path) return "Step 1 of precommit needs path: the absolute path of the git repository's root.";
  if (args.path !== undefined && (!isAbsolutePath(args.path) || SHELL_SYNTAX.test(args.path))) {
    return "path must be the absolute path of the git repository's root, without shell syntax (` $ ; | & < > or control characters).";
  }
  if (args.compare_to !== undefined && !GIT_REF.test(args.compare_to)) {
    return "compare_to must be a git ref: a branch, tag, commit or expression such as HEAD~2 (not an option, no spaces or shell syntax).";
  }
  if (!args.compare_to && args.include_staged === false && args.include_unstaged === false) {
    return "Nothing to validate: include_staged and include_unstaged are both false and no compare_to is given. Include one of them, or name a ref in compare_to.";
  }
  if (args.precommit_type !== "internal" && args.total_steps < 3) {
    return "External validation takes at least 3 steps (gather the changes, review them, then the expert's check): set total_steps to 3 or more, or precommit_type to 'internal'.";
  }
  return undefined;
}

/** The server never runs git: the agent collects the changes and sends them as files. */
function gatherChanges(args: Args): string[] {
  const root = (args.path ?? "").replace(/[\\/]+$/, "");
  const diffs = args.compare_to
    ? [`\`git diff ${args.compare_to}\` (the changes against ${args.compare_to})`]
    : [
        ...(args.include_staged === false ? [] : ["`git diff --cached` (staged changes)"]),
        ...(args.include_unstaged === false ? [] : ["`git diff` (unstaged changes)"]),
      ];
  return [
    `In ${root || "/"}, run \`git status\` to see every changed and untracked file`,
    `Run ${diffs.join(" and ")} there, leaving out binary files`,
    `In the next step pass the changed files as relevant_files (absolute paths) and the diff itself as {"path": "${root}/changes.diff", "content": "<the diff>"}`,
    "Understand what the change adds, alters or removes, and why",
  ];
}

const afterFirstStep = actionsByConfidence({
  first: [],
  exploring: [
    "Read each changed file around its changes: logic, edge cases, error handling",
    "Check the changes for security risks: input validation, authorization, secrets",
    "Find the callers, configuration and tests the change affects",
  ],
  confirming: ["Check that tests cover the new and changed behaviour", "Look for incomplete changes: callers, docs, migrations, debug code"],
  finishing: ["Confirm every issue in the diff with its severity and fix", "Decide whether the change is ready to commit"],
});

export const precommit = defineWorkflowTool({
  name: "precommit",
  title: "Pre-commit validation",
  description: "Validate git changes before a commit, in steps (path: the repository root); another model then checks them.",
  noun: "validation",
  extra,
  check: problemOf,
  requiredActions: (args, consolidated) => (args.step_number === 1 ? gatherChanges(args) : afterFirstStep(args, consolidated)),
  // An internal validation sends nothing out, whatever the thread holds.
  skip: {
    applies: (args) => args.precommit_type === "internal",
    status: "skipped_due_to_internal_analysis_type",
    reason: "precommit_type is internal: the validation is the agent's own, and no change was sent to another model.",
  },
  completeStatus: "validation_complete_ready_for_commit",
  statusDetails: ({ args, consolidated }) => ({
    issues_identified: consolidated.issues.length,
    precommit_type: args.precommit_type ?? "external",
  }),
  expert: {
    systemPrompt: PRECOMMIT_PROMPT,
    requestHeading: "COMMIT VALIDATION REQUEST",
    filesHeading: "CHANGED FILES AND DIFF",
    sections: (args) => [
      ...promptSection("CHANGES UNDER VALIDATION", [
        ...(args.path ? [`Repository: ${args.path}`] : []),
        args.compare_to
          ? `Changes against: ${args.compare_to}`
          : `Staged changes ${args.include_staged === false ? "left out" : "included"}; unstaged changes ${args.include_unstaged === false ? "left out" : "included"}.`,
      ]),
      ...promptSection("FOCUS", args.focus_on ? [args.focus_on] : []),
      ...severityFilterSection(args.severity_filter),
    ],
    instruction: "Validate the changes above, check the agent's findings, and reply in the JSON format of your instructions.",
    // A validation that continues an earlier conversation is always checked: the changes may be in that history.
    callWhen: (_args, consolidated, continuing) => continuing || hasWorkForExpert(consolidated),
  },
  nextSteps: (_args, withExpert) =>
    withExpert
      ? "Check the expert's issues against the diff, fix what holds from critical to low, then commit only when nothing critical or high remains."
      : "Your validation is complete: fix the issues you found from critical to low, then commit when nothing critical or high remains.",
});
