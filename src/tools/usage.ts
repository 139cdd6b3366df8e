import { z } from "zod";
import { DEFAULT_USAGE_DAYS, MAX_USAGE_DAYS, readUsage, type UsageReport } from "../providers/usage";
import { defineTool } from "./define";
import { jsonResult, toolOutput } from "./engine/envelope";

const integer = new Intl.NumberFormat("en-US");

function usd(value: number | null): string {
  return value === null ? "no price" : `$${value.toFixed(6)}`;
}

export function renderUsage(report: UsageReport): string {
  const window = `${report.from} to ${report.to} (UTC)`;
  if (report.rows.length === 0) return `No model calls recorded for team ${report.team} from ${window}.`;
  const { totals } = report;
  const rows = report.rows.map(
    (row) =>
      `| ${row.day} | ${row.provider}/${row.model} | ${row.calls} | ${integer.format(row.inputTokens)} | ${integer.format(row.outputTokens)} | ${usd(row.estimatedCostUsd)} |`,
  );
  const unpriced = totals.unpricedModels.length > 0 ? ` (without ${totals.unpricedModels.join(", ")}: no price in the registry)` : "";
  return [
    `Model usage of team ${report.team}, ${window}:`,
    "",
    "| day | model | calls | input tokens | output tokens | estimated cost |",
    "|---|---|---|---|---|---|",
    ...rows,
    `| **total** | | ${totals.calls} | ${integer.format(totals.inputTokens)} | ${integer.format(totals.outputTokens)} | ${usd(totals.estimatedCostUsd)}${unpriced} |`,
    "",
    report.note,
  ].join("\n");
}

export const usage = defineTool({
  name: "usage",
  title: "Token usage",
  description: "This team's model tokens per day and model, with estimated cost.",
  input: { days: z.number().int().min(1).max(MAX_USAGE_DAYS).optional().describe(`Days back, today included (default ${DEFAULT_USAGE_DAYS}).`) },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const report = await readUsage(ctx, args.days ?? DEFAULT_USAGE_DAYS);
    const output = toolOutput({
      status: "success",
      content: renderUsage(report),
      content_type: "markdown",
      metadata: {
        tool_name: "usage",
        days: report.days,
        from: report.from,
        to: report.to,
        calls: report.totals.calls,
        input_tokens: report.totals.inputTokens,
        output_tokens: report.totals.outputTokens,
        estimated_cost_usd: report.totals.estimatedCostUsd,
        unpriced_models: report.totals.unpricedModels,
        price_source: report.prices.source,
        prices_as_of: report.prices.asOf,
      },
    });
    return jsonResult(output);
  },
});
