/** A benchmark target: a threshold a measured value must meet, and whether it did. */

export type Comparison = "<=" | "<" | ">=" | ">" | "==";

export interface TargetCheck {
  /** What is checked, e.g. "median chat / baseline upstream". */
  name: string;
  /** Human-readable, e.g. "≤ 1.5". */
  target: string;
  op: Comparison;
  threshold: number;
  value: number;
  unit: string;
  pass: boolean;
}

const SYMBOL: Record<Comparison, string> = { "<=": "≤", "<": "<", ">=": "≥", ">": ">", "==": "=" };

export function check(name: string, op: Comparison, threshold: number, value: number, unit = ""): TargetCheck {
  const pass =
    Number.isFinite(value) &&
    (op === "<=" ? value <= threshold : op === "<" ? value < threshold : op === ">=" ? value >= threshold : op === ">" ? value > threshold : value === threshold);
  const shown = unit === "x" ? `${threshold}×` : `${threshold}${unit ? ` ${unit}` : ""}`;
  return { name, target: `${SYMBOL[op]} ${shown}`, op, threshold, value, unit, pass };
}
