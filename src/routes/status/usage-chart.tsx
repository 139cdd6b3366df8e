import type { UsageReport } from "../../providers/usage";
import { shiftDay } from "../../core/rpc/team";

/** One model's tokens on one day, placed in the chart's coordinates (viewBox units). */
export interface ChartBar {
  day: string;
  series: string;
  tokens: number;
  calls: number;
  x: number;
  y: number;
  width: number;
  height: number;
  color: string;
}

export interface ChartLayout {
  width: number;
  height: number;
  /** Every UTC day of the window, oldest first, with the x of its label. */
  days: Array<{ day: string; x: number }>;
  /** Models ("provider/model") in stacking order, bottom first, with their colour. */
  series: Array<{ name: string; color: string }>;
  /** Horizontal grid lines: a token count and its y. */
  ticks: Array<{ tokens: number; y: number }>;
  bars: ChartBar[];
}

const WIDTH = 640;
const HEIGHT = 240;
const PLOT = { left: 52, right: 8, top: 16, bottom: 24 };
const TICKS = 4;
/** Distinct on white and for the common kinds of colour blindness (Okabe–Ito, without yellow). */
const PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000", "#999999"];

/** The smallest 1, 2 or 5 times a power of ten that is at least `value` (1 for nothing). */
function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((nice) => nice >= value) ?? 10 * power;
}

/** 950, 1.2k, 3.4M: short enough for the axis. */
export function formatTokens(tokens: number): string {
  if (tokens >= 1_000_000) return `${Number((tokens / 1_000_000).toFixed(1))}M`;
  if (tokens >= 1_000) return `${Number((tokens / 1_000).toFixed(1))}k`;
  return String(tokens);
}

/**
 * Lays out a usage report as bars per day stacked by model (input plus output tokens), for a
 * window of a few weeks (a label per day). Pure: the same report gives the same chart. Days
 * with no calls are in the window with no bar.
 */
export function layoutUsageChart(report: Pick<UsageReport, "from" | "to" | "rows">): ChartLayout {
  const days: string[] = [];
  for (let day = report.from; day <= report.to; day = shiftDay(day, 1)) days.push(day);
  const seriesOf = (row: { provider: string; model: string }) => `${row.provider}/${row.model}`;
  const totals = new Map<string, number>();
  for (const row of report.rows) totals.set(seriesOf(row), (totals.get(seriesOf(row)) ?? 0) + row.inputTokens + row.outputTokens);
  // The largest model at the bottom, so the stacks read alike from day to day.
  const series = [...totals]
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([name], index) => ({ name, color: PALETTE[index % PALETTE.length]! }));

  const perDay = new Map<string, number>();
  for (const row of report.rows) perDay.set(row.day, (perDay.get(row.day) ?? 0) + row.inputTokens + row.outputTokens);
  const top = niceCeiling(Math.max(0, ...perDay.values()));
  const plotWidth = WIDTH - PLOT.left - PLOT.right;
  const plotHeight = HEIGHT - PLOT.top - PLOT.bottom;
  const baseline = PLOT.top + plotHeight;
  const slot = plotWidth / Math.max(1, days.length);
  const barWidth = Math.max(1, slot * 0.7);
  const scale = plotHeight / top;

  const bars: ChartBar[] = [];
  days.forEach((day, index) => {
    const x = PLOT.left + index * slot + (slot - barWidth) / 2;
    let stacked = 0;
    for (const { name, color } of series) {
      const rows = report.rows.filter((row) => row.day === day && seriesOf(row) === name);
      const tokens = rows.reduce((sum, row) => sum + row.inputTokens + row.outputTokens, 0);
      if (tokens === 0) continue;
      const calls = rows.reduce((sum, row) => sum + row.calls, 0);
      const height = tokens * scale;
      bars.push({ day, series: name, tokens, calls, x, y: baseline - (stacked + tokens) * scale, width: barWidth, height, color });
      stacked += tokens;
    }
  });

  return {
    width: WIDTH,
    height: HEIGHT,
    days: days.map((day, index) => ({ day, x: PLOT.left + index * slot + slot / 2 })),
    series,
    ticks: Array.from({ length: TICKS + 1 }, (_, step) => ({ tokens: (top / TICKS) * step, y: baseline - (plotHeight / TICKS) * step })),
    bars,
  };
}

const round = (value: number) => Math.round(value * 100) / 100;

/** The chart as inline SVG (no script, no external asset); each bar's title tells its numbers. */
export function UsageChart({ layout }: { layout: ChartLayout }) {
  const plotRight = layout.width - PLOT.right;
  return (
    <svg
      class="chart"
      viewBox={`0 0 ${layout.width} ${layout.height}`}
      role="img"
      aria-label={`Tokens per day by model, ${layout.days[0]?.day ?? ""} to ${layout.days.at(-1)?.day ?? ""} (UTC)`}
    >
      {layout.ticks.map((tick) => (
        <g>
          <line x1={PLOT.left} x2={plotRight} y1={round(tick.y)} y2={round(tick.y)} stroke="#d6d3d1" stroke-width="1" />
          <text x={PLOT.left - 6} y={round(tick.y) + 4} text-anchor="end" font-size="11" fill="#57534e">
            {formatTokens(tick.tokens)}
          </text>
        </g>
      ))}
      {layout.bars.map((bar) => (
        <rect class="bar" x={round(bar.x)} y={round(bar.y)} width={round(bar.width)} height={round(bar.height)} fill={bar.color}>
          <title>{`${bar.day} · ${bar.series}: ${bar.tokens.toLocaleString("en-US")} tokens in ${bar.calls} ${bar.calls === 1 ? "call" : "calls"}`}</title>
        </rect>
      ))}
      {layout.days.map(({ day, x }, index) => (
        // A narrow screen shows every other label, counted from today, which always has one.
        <text class={(layout.days.length - 1 - index) % 2 === 0 ? "day" : "day alternate"} x={round(x)} y={layout.height - 6} text-anchor="middle" font-size="11" fill="#57534e">
          {day.slice(5)}
        </text>
      ))}
    </svg>
  );
}
