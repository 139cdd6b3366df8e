import { z } from "zod";
import { actionsByConfidence } from "./engine/actions";
import { countBy } from "./engine/severity";
import { defineWorkflowTool } from "./engine/spec";
import { ANALYZE_PROMPT } from "./prompts/analyze";

export const analyze = defineWorkflowTool({
  name: "analyze",
  title: "Analyze: architecture and code quality",
  description:
    "Analyze code in steps (architecture, performance, security, quality); another model then gives strategic findings with evidence and recommendations.",
  noun: "analysis",
  investigates: ["findings", "relevant_files", "files_checked", "relevant_context", "issues_found", "confidence", "images"],
  extra: {
    analysis_type: z.enum(["architecture", "performance", "security", "quality", "general"]).optional(),
    output_format: z.enum(["summary", "detailed", "actionable"]).optional(),
  },
  check: (args) =>
    args.step_number === 1 && (args.relevant_files ?? []).length === 0
      ? "Step 1 of analyze needs relevant_files: the files or folders to analyze (absolute paths, sha256 references or {path, content})."
      : undefined,
  requiredActions: actionsByConfidence({
    first: [
      "Map the code's structure: entry points, modules, layers and how they depend on each other",
      "Read the central files and note the architectural patterns and decisions",
      "Note the constraints: scale, performance needs, deployment, conventions",
    ],
    exploring: [
      "Trace the main data and control flows across modules",
      "Look for coupling, duplication, hidden complexity and limits to growth",
      "Examine what the analysis type asks for (architecture, performance, security or quality)",
    ],
    confirming: ["Back each finding with the exact code (file:line)", "Weigh each finding's impact against the cost of changing it"],
    finishing: ["Rank the findings by impact", "Check that every part of the request is covered"],
  }),
  completeStatus: "analysis_complete_ready_for_implementation",
  statusDetails: ({ consolidated }) => ({ insights_by_severity: countBy(consolidated.issues, "severity") }),
  expert: {
    systemPrompt: ANALYZE_PROMPT,
    requestHeading: "ANALYSIS REQUEST",
    filesHeading: "FILES TO ANALYZE",
    sections: (args) => [
      "=== ANALYSIS SCOPE ===",
      `Analysis type: ${args.analysis_type ?? "general"}`,
      `Output format: ${args.output_format ?? "detailed"}`,
      "",
    ],
    instruction: "Assess the code and the agent's findings above, in the output format requested and the format of your instructions.",
    callWhen: (_args, c) => c.relevantFiles.length > 0 || c.findings.length > 0,
  },
  nextSteps: (_args, withExpert) =>
    withExpert
      ? "Check the expert's findings against the code, merge them with yours, and present the analysis to the user with its top recommendations."
      : "Your analysis is complete: present its findings, their evidence and your recommendations to the user.",
});
