import { z } from "zod";
import { actionsByConfidence } from "./engine/actions";
import { promptSection } from "./engine/expert";
import { hasWorkForExpert } from "./engine/protocol";
import { countBy, severityFilterField, severityFilterSection } from "./engine/severity";
import { defineWorkflowTool } from "./engine/spec";
import { CODEREVIEW_PROMPT } from "./prompts/codereview";

export const codereview = defineWorkflowTool({
  name: "codereview",
  title: "Code review",
  description: "Code review in steps (bugs, security, performance, quality); another model then checks it.",
  noun: "code_review",
  extra: {
    review_validation_type: z.enum(["external", "internal"]).optional(),
    review_type: z.enum(["full", "security", "performance", "quick"]).optional(),
    focus_on: z.string().optional(),
    standards: z.string().optional(),
    severity_filter: severityFilterField.optional(),
  },
  check: (args) =>
    args.step_number === 1 && (args.relevant_files ?? []).length === 0
      ? "Step 1 of codereview needs the code to review: pass relevant_files (absolute paths, 'sha256:<hex>' references or {path, content} objects)."
      : undefined,
  requiredActions: actionsByConfidence({
    first: [
      "Read every file under review in full and note its purpose, structure and dependencies",
      "Find the entry points and the data that crosses trust boundaries",
      "Start a list of issues with severity and file:line",
    ],
    exploring: [
      "Check correctness: logic, edge cases, error handling, resource cleanup",
      "Check security: input validation, authorization, injection, secrets",
      "Check performance and maintainability: hot paths, complexity, duplication",
    ],
    confirming: ["Confirm each issue in the code and rule out false positives", "Look at the callers and tests of the code you flagged"],
    finishing: ["Make sure every issue has a severity, a location and a fix", "Summarize the overall quality and what to fix first"],
  }),
  // An internal review sends nothing out, whatever the thread holds.
  skip: {
    applies: (args) => args.review_validation_type === "internal",
    status: "skipped_due_to_internal_analysis_type",
    reason: "review_validation_type is internal: the review is the agent's own, and no code was sent to another model.",
  },
  completeStatus: "code_review_complete_ready_for_implementation",
  statusDetails: ({ args, consolidated }) => ({
    issues_by_severity: countBy(consolidated.issues, "severity"),
    review_validation_type: args.review_validation_type ?? "external",
  }),
  expert: {
    systemPrompt: CODEREVIEW_PROMPT,
    requestHeading: "CODE REVIEW REQUEST",
    filesHeading: "CODE TO REVIEW",
    sections: (args) => [
      ...promptSection("REVIEW TYPE", [args.review_type ?? "full"]),
      ...promptSection("FOCUS", args.focus_on ? [args.focus_on] : []),
      ...promptSection("CODING STANDARDS", args.standards ? [args.standards] : []),
      ...severityFilterSection(args.severity_filter),
    ],
    instruction: "Review the code above, check the agent's findings, and reply in the JSON format of your instructions.",
    // A review that continues an earlier conversation is always checked: the code may be in that history.
    callWhen: (_args, consolidated, continuing) => continuing || hasWorkForExpert(consolidated),
  },
  nextSteps: (_args, withExpert) =>
    withExpert
      ? "Check the expert's issues against the code, then fix them from critical to low (if it answered focused_review_required, " +
        "review the part it names first). Tell the user what you fixed and what you rejected."
      : "Your review is complete: present the issues from critical to low with their fixes, then fix them as the user wants.",
});
