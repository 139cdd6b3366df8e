import { z } from "zod";
import { promptSection } from "./expert";
import { SEVERITIES, type Issue } from "./steps";

/** The severities a review can be filtered by, from the most serious. */
const FILTERED = SEVERITIES.filter((severity) => severity !== "info");

/** The lowest severity a review reports; "all" (the default) reports every one. */
export const severityFilterField = z.enum([...FILTERED, "all"]);
export type SeverityFilter = z.infer<typeof severityFilterField>;

/** The expert prompt's section saying which severities to report. */
export function severityFilterSection(filter: SeverityFilter | undefined): string[] {
  const reported = filter === undefined || filter === "all" ? FILTERED : FILTERED.slice(0, FILTERED.indexOf(filter) + 1);
  return promptSection("SEVERITY FILTER", [
    reported.length === FILTERED.length ? "Report issues of every severity." : `Report only issues of severity ${reported.join(", ")}.`,
  ]);
}

/** How many issues there are of each value of one of their fields (severity, type), as the original grouped them. */
export function countBy(issues: Issue[], field: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const issue of issues) {
    const value = issue[field];
    const key = typeof value === "string" && value !== "" ? value : "unknown";
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
