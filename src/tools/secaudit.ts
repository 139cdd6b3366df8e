import { z } from "zod";
import { actionsByConfidence } from "./engine/actions";
import { promptSection } from "./engine/expert";
import { countBy, severityFilterField, severityFilterSection } from "./engine/severity";
import { defineWorkflowTool, type StepSession, type WorkflowArgs } from "./engine/spec";
import { SECAUDIT_PROMPT } from "./prompts/secaudit";

const extra = {
  security_scope: z.string().optional(),
  threat_level: z.enum(["low", "medium", "high", "critical"]).optional(),
  compliance_requirements: z.array(z.string()).optional(),
  audit_focus: z.enum(["owasp", "compliance", "infrastructure", "dependencies", "comprehensive"]).optional(),
  severity_filter: severityFilterField.optional(),
};

/** A first step without a scope still runs: the agent is told what it leaves the audit without. */
function scopeWarning({ args }: StepSession<WorkflowArgs<typeof extra>>): Record<string, unknown> {
  return args.step_number === 1 && !args.security_scope
    ? { warning: "No security_scope given: describe the system (stack, exposure, data handled) in security_scope so the audit has its context." }
    : {};
}

export const secaudit = defineWorkflowTool({
  name: "secaudit",
  title: "Security audit",
  description: "Security audit in steps; another model then checks the findings.",
  noun: "security_audit",
  extra,
  requiredActions: actionsByConfidence({
    first: [
      "Map the application: stack, entry points, trust boundaries, sensitive data and how it flows",
      "Find how users authenticate and what each role may do",
      "List the dependencies and the deployment configuration",
    ],
    exploring: [
      "Trace untrusted input to queries, commands, templates, file paths and outbound requests",
      "Check authorization on every sensitive operation, and session and token handling",
      "Look for secrets in code, weak cryptography and unsafe defaults",
    ],
    confirming: ["Confirm each finding with its exploit path in the code", "Check the dependencies' known vulnerabilities and the configuration"],
    finishing: ["Give every finding a severity, an OWASP category and a fix", "Check the compliance requirements you were given"],
  }),
  skip: {
    applies: (args) => args.confidence === "certain",
    status: "skipped_due_to_certain_audit_confidence",
    reason: "The agent is certain of its audit: no outside check was made.",
  },
  completeStatus: "security_analysis_complete",
  statusDetails: ({ consolidated }) => ({ vulnerabilities_by_severity: countBy(consolidated.issues, "severity") }),
  onPause: scopeWarning,
  onComplete: scopeWarning,
  expert: {
    systemPrompt: SECAUDIT_PROMPT,
    requestHeading: "SECURITY AUDIT REQUEST",
    filesHeading: "CODE TO AUDIT",
    sections: (args) => [
      ...promptSection("SECURITY SCOPE", args.security_scope ? [args.security_scope] : []),
      ...promptSection("THREAT LEVEL", [args.threat_level ?? "medium"]),
      ...promptSection("AUDIT FOCUS", [args.audit_focus ?? "comprehensive"]),
      ...promptSection("COMPLIANCE REQUIREMENTS", args.compliance_requirements ?? []),
      ...severityFilterSection(args.severity_filter),
    ],
    instruction: "Audit the code above, check the agent's findings, and reply in the JSON format of your instructions.",
  },
  nextSteps: (_args, withExpert) =>
    withExpert
      ? "Verify the expert's findings in the code, then fix them from critical to low and tell the user what you fixed, what remains and what you rejected."
      : "Your audit is complete: present the findings from critical to low with their exploit paths and fixes.",
});
