import { z } from "zod";
import { promptSection } from "./expert";
import type { Issue } from "./steps";

/** Severities from the most to the least serious. */
const SEVERITIES = ["critical", "high", "medium", "low"] as const;

/** The lowest severity a review reports; "all" (the default) reports every one. */
export const severityFilterField = z.enum([...SEVERITIES, "all"]);
export type SeverityFilter = z.infer<typeof severityFilterField>;

/** The expert prompt's section saying which severities to report. */
export function severityFilterSection(filter: SeverityFilter | undefined): string[] {
  const reported = filter === undefined || filter === "all" ? SEVERITIES : SEVERITIES.slice(0, SEVERITIES.indexOf(filter) + 1);
  return promptSection("SEVERITY FILTER", [
    reported.length === SEVERITIES.length ? "Report issues of every severity." : `Report only issues of severity ${reported.join(", ")}.`,
  ]);
}

/** How many of the issues have each severity. */
export function issuesBySeverity(issues: Issue[]): Record<(typeof SEVERITIES)[number], number> {
  const counts = { critical: 0, high: 0, medium: 0, low: 0 };
  for (const issue of issues) counts[issue.severity] += 1;
  return counts;
}
