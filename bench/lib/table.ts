/** Markdown tables of result rows, for the terminal and for bench/results/README.md. */
import type { Row } from "./results.ts";

export function formatNumber(value: number | undefined | null, unit = ""): string {
  if (value === undefined || value === null || Number.isNaN(value)) return "–";
  if (!Number.isFinite(value)) return "∞";
  const abs = Math.abs(value);
  let text: string;
  if (unit === "ms" || unit === "s" || unit === "x" || unit === "µs") {
    text = abs >= 100 ? value.toFixed(0) : abs >= 10 ? value.toFixed(1) : abs >= 1 ? value.toFixed(2) : value.toFixed(3);
  } else if (unit === "USD") {
    text = value.toPrecision(3);
  } else if (Number.isInteger(value)) {
    text = value.toLocaleString("en-US");
  } else {
    text = abs >= 100 ? value.toFixed(0) : value.toFixed(1);
  }
  return unit && unit !== "x" ? `${text} ${unit}` : unit === "x" ? `${text}×` : text;
}

function passCell(row: Row, quick: boolean): string {
  if (!row.target) return "";
  if (row.target.pass) return "pass";
  return quick ? "MISS (quick run)" : "**MISS**";
}

export const HEADER = ["metric", "n", "min", "median / value", "p99", "ratio", "target", "result"];

export function rowCells(row: Row, quick: boolean): string[] {
  const central = row.median ?? row.value;
  const ratio = row.ratio !== undefined ? `${formatNumber(row.ratio, "x")}${row.baseline ? ` vs ${row.baseline}` : ""}` : "";
  const target = row.target ? `${row.target.name} ${row.target.target}` : "";
  return [
    row.metric,
    row.n !== undefined ? String(row.n) : "",
    formatNumber(row.min, row.unit),
    formatNumber(central, row.unit),
    formatNumber(row.p99, row.unit),
    ratio,
    target,
    passCell(row, quick),
  ].map((cell) => (cell === "–" && row.median === undefined && row.min === undefined ? "" : cell));
}

export function markdownTable(header: string[], rows: string[][]): string {
  const escape = (cell: string) => cell.replace(/\|/g, "\\|");
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((cells) => `| ${cells.map(escape).join(" | ")} |`),
  ].join("\n");
}

/** A plain-text table aligned for the terminal. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
