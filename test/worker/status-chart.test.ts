/**
 * The status page's usage chart: a pure layout of a usage report as bars per UTC day stacked by
 * model, and its inline SVG.
 */
import { describe, expect, it } from "vitest";
import { formatTokens, layoutUsageChart, UsageChart } from "../../src/routes/status/usage-chart.tsx";

function row(day: string, model: string, inputTokens: number, outputTokens: number, calls = 1) {
  const [provider, ...name] = model.split("/");
  return { day, provider: provider!, model: name.join("/"), inputTokens, outputTokens, calls, estimatedCostUsd: null };
}

const report = {
  from: "2026-11-20",
  to: "2026-11-26",
  rows: [
    row("2026-11-26", "google/gemini-2.5-flash", 600, 400, 3),
    row("2026-11-26", "openai/gpt-5", 100, 100),
    row("2026-11-24", "google/gemini-2.5-flash", 250, 250, 2),
    row("2026-11-20", "openai/gpt-5", 50, 50),
  ],
};

describe("layoutUsageChart", () => {
  it("has every day of the window, oldest first, and a bar only where a model was called", () => {
    const layout = layoutUsageChart(report);
    expect(layout.days.map((d) => d.day)).toEqual(["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26"]);
    expect(layout.bars.map((bar) => `${bar.day} ${bar.series} ${bar.tokens} ${bar.calls}`)).toEqual([
      "2026-11-20 openai/gpt-5 100 1",
      "2026-11-24 google/gemini-2.5-flash 500 2",
      "2026-11-26 google/gemini-2.5-flash 1000 3",
      "2026-11-26 openai/gpt-5 200 1",
    ]);
    // Day labels are spaced evenly, left to right.
    const xs = layout.days.map((d) => d.x);
    const gaps = xs.slice(1).map((x, i) => x - xs[i]!);
    for (const gap of gaps) expect(gap).toBeCloseTo(gaps[0]!, 6);
  });

  it("stacks a day's models on one another, the most used model at the bottom, heights in proportion to tokens", () => {
    const layout = layoutUsageChart(report);
    expect(layout.series.map((s) => s.name)).toEqual(["google/gemini-2.5-flash", "openai/gpt-5"]);
    expect(new Set(layout.series.map((s) => s.color)).size).toBe(2);
    const [flash, gpt] = layout.bars.filter((bar) => bar.day === "2026-11-26");
    expect(flash!.series).toBe("google/gemini-2.5-flash");
    expect(gpt!.y + gpt!.height).toBeCloseTo(flash!.y, 6);
    expect(flash!.x).toBe(gpt!.x);
    expect(flash!.height / gpt!.height).toBeCloseTo(1000 / 200, 6);
    const baseline = layout.ticks[0]!.y;
    expect(flash!.y + flash!.height).toBeCloseTo(baseline, 6);
    // The top grid line is a round number at or above the busiest day (1,200 tokens), and every bar fits under it.
    const top = layout.ticks.at(-1)!;
    expect(top.tokens).toBe(2000);
    for (const bar of layout.bars) expect(bar.y).toBeGreaterThanOrEqual(top.y);
    expect(layout.ticks.map((t) => t.tokens)).toEqual([0, 500, 1000, 1500, 2000]);
  });

  it("draws an empty window as axes without bars", () => {
    const layout = layoutUsageChart({ from: "2026-11-26", to: "2026-11-26", rows: [] });
    expect(layout.days).toHaveLength(1);
    expect(layout.bars).toEqual([]);
    expect(layout.ticks.at(-1)!.tokens).toBe(1);
  });
});

describe("UsageChart", () => {
  it("renders one <rect> per bar with its numbers in a title, and escapes model names", async () => {
    const hostile = { ...report, rows: [...report.rows, row("2026-11-25", 'openrouter/x/<script>alert("1")</script>', 10, 10)] };
    const svg = String(await UsageChart({ layout: layoutUsageChart(hostile) }));
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<rect class="bar"/g)).toHaveLength(5);
    expect(svg).toContain("2026-11-26 · google/gemini-2.5-flash: 1,000 tokens in 3 calls");
    expect(svg).not.toContain("<script>");
    expect(svg).toContain("&lt;script&gt;");
    expect(svg).toContain('viewBox="0 0 640 240"');
    // A label per day; on a narrow screen every other one hides, and today's never does.
    const labels = [...svg.matchAll(/<text class="(day(?: alternate)?)"[^>]*>([^<]+)<\/text>/g)].map((m) => `${m[2]} ${m[1]}`);
    expect(labels).toEqual(["11-20 day", "11-21 day alternate", "11-22 day", "11-23 day alternate", "11-24 day", "11-25 day alternate", "11-26 day"]);
  });
});

describe("formatTokens", () => {
  it("shortens thousands and millions for the axis", () => {
    expect([0, 950, 1000, 1250, 2_000_000, 3_450_000].map(formatTokens)).toEqual(["0", "950", "1k", "1.3k", "2M", "3.5M"]);
  });
});
