import type { Consolidated, Issue, WorkflowState } from "./steps";

/** A section of the expert's prompt: its heading and lines, or nothing when there are no lines. */
export function promptSection(heading: string, lines: string[]): string[] {
  return lines.length > 0 ? [`=== ${heading} ===`, ...lines, ""] : [];
}

/**
 * The expert's prompt: the thread before the session (when there is one), what the agent was
 * asked, what it found step by step, its hypotheses and issues, the tool's own sections, the
 * files, and what to do with them.
 */
export function expertPrompt(parts: {
  history: string;
  requestHeading: string;
  state: WorkflowState;
  consolidated: Consolidated;
  sections: string[];
  files: string;
  filesHeading: string;
  instruction: string;
}): string {
  const { consolidated: c } = parts;
  return [
    ...(parts.history ? [parts.history, ""] : []),
    ...promptSection(parts.requestHeading, [parts.state.initialRequest]),
    ...promptSection("AGENT'S INVESTIGATION FINDINGS", c.findings),
    ...promptSection(
      "HYPOTHESIS EVOLUTION",
      c.hypotheses.map((h) => `Step ${h.step} (${h.confidence} confidence): ${h.hypothesis}`),
    ),
    ...promptSection(
      "ISSUES IDENTIFIED",
      c.issues.map(issueLine),
    ),
    ...promptSection("RELEVANT CODE ELEMENTS", c.relevantContext),
    ...promptSection("FILES EXAMINED BY THE AGENT", c.filesChecked.length > 0 ? [c.filesChecked.join(", ")] : []),
    ...parts.sections,
    ...promptSection(parts.filesHeading, parts.files ? [parts.files] : []),
    parts.instruction,
  ].join("\n");
}

/** An issue as one line of the prompt: severity and description, then every other field the agent gave it. */
function issueLine({ severity, description, ...details }: Issue): string {
  const rest = Object.entries(details).map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
  return `[${severity.toUpperCase()}] ${description}${rest.length > 0 ? ` (${rest.join("; ")})` : ""}`;
}

/** Statuses an expert may answer with that the agent must act on: they replace the completion. */
export const PROMOTED_STATUSES: ReadonlySet<string> = new Set(["files_required_to_continue", "investigation_paused", "refactoring_paused"]);

export type ExpertAnalysis = Record<string, unknown> & { status?: string };

/** A JSON object, or undefined when the text is not one. */
function jsonObject(text: string): ExpertAnalysis | undefined {
  if (!text.startsWith("{")) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as ExpertAnalysis) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The expert's reply as JSON when the whole reply is a JSON object (bare or alone in a ```json
 * fence). A reply in prose that carries a fenced JSON object with a status the agent must act on
 * (a request for files, a pause) gives that object, as the original extracted it. Any other
 * reply is wrapped as text as the original did, so the agent always gets an object; a markdown
 * answer that merely contains a JSON block (a test fixture, an example) stays whole.
 */
export function parseExpertReply(text: string): ExpertAnalysis {
  const whole = /^```(?:json)?\s*([\s\S]*?)```$/i.exec(text.trim())?.[1] ?? text;
  const parsed = jsonObject(whole.trim());
  if (parsed) return parsed;
  for (const [, block] of text.matchAll(/```(?:json)?\s*([\s\S]*?)```/gi)) {
    const special = jsonObject((block ?? "").trim());
    if (special?.status !== undefined && PROMOTED_STATUSES.has(special.status)) return special;
  }
  return { status: "analysis_complete", raw_analysis: text, format: "text", note: "Analysis provided in plain text format" };
}
