import { z } from "zod";
import { listThreads } from "../conversation/threads";
import type { ThreadSummary } from "../core/rpc/team";
import { defineTool } from "./define";
import { jsonResult, toolOutput } from "./engine/envelope";

function isoMinutes(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

export function renderThreads(threads: ThreadSummary[]): string {
  if (threads.length === 0) return "No conversation threads yet for this team.";
  const rows = threads.map(
    (t) =>
      `| \`${t.threadId}\` | ${t.creatorTool} | ${t.title.replace(/\s+/g, " ").replace(/\|/g, "\\|").slice(0, 60)} | ${t.turnCount} | ${isoMinutes(t.updatedAt)} | ${isoMinutes(t.expiresAt)} |`,
  );
  return [
    "| continuation_id | started by | first words | turns | last update | expires |",
    "|---|---|---|---|---|---|",
    ...rows,
    "",
    "Pass a continuation_id to any tool to continue that thread.",
  ].join("\n");
}

export const threads = defineTool({
  name: "threads",
  title: "Recent threads",
  description: "List this team's recent conversation threads (continuation ids, first words, turns, expiry) to resume one.",
  input: { limit: z.number().int().min(1).max(200).optional().describe("How many, most recent first (default 20).") },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const list = await listThreads(ctx, args.limit ?? 20);
    const output = toolOutput({
      status: "success",
      content: renderThreads(list),
      content_type: "markdown",
      metadata: { tool_name: "threads", count: list.length },
    });
    return jsonResult(output);
  },
});
