import type { Consolidated, WorkflowState } from "./steps";

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
      c.issues.map((i) => `[${i.severity.toUpperCase()}] ${i.description}`),
    ),
    ...promptSection("RELEVANT CODE ELEMENTS", c.relevantContext),
    ...promptSection("FILES EXAMINED BY THE AGENT", c.filesChecked.length > 0 ? [c.filesChecked.join(", ")] : []),
    ...parts.sections,
    ...promptSection(parts.filesHeading, parts.files ? [parts.files] : []),
    parts.instruction,
  ].join("\n");
}

/** Statuses an expert may answer with that the agent must act on: they replace the completion. */
export const PROMOTED_STATUSES: ReadonlySet<string> = new Set(["files_required_to_continue", "investigation_paused", "refactoring_paused"]);

export type ExpertAnalysis = Record<string, unknown> & { status?: string };

/**
 * The expert's reply as JSON when the whole reply is a JSON object (bare or alone in a ```json
 * fence), otherwise the text wrapped as the original did, so the agent always gets an object.
 * A markdown answer that merely contains a JSON block (a test fixture, an example) stays whole.
 */
export function parseExpertReply(text: string): ExpertAnalysis {
  const fenced = /^```json\s*([\s\S]*?)```$/i.exec(text.trim())?.[1];
  const candidate = (fenced ?? text).trim();
  if (candidate.startsWith("{")) {
    try {
      const parsed: unknown = JSON.parse(candidate);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as ExpertAnalysis;
    } catch {
      // Not JSON after all: fall through to the text form.
    }
  }
  return { status: "analysis_complete", raw_analysis: text, format: "text", note: "Analysis provided in plain text format" };
}
