import type { CallToolResult } from "@modelcontextprotocol/server";
import { z } from "zod";
import { UserFacingError } from "../core/errors";
import type { ToolCard, ToolContext } from "../tools/define";
import { argumentSchema } from "./tool-schemas";

function errorResult(text: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text }] };
}

/**
 * Checks a tool's arguments against its schema, runs it, and turns every failure into an
 * `isError` result with a message for the assistant: never a stack trace, never a protocol error.
 */
export async function runTool(
  card: ToolCard,
  rawArguments: Record<string, unknown>,
  ctx: ToolContext & { modelDescription: string },
): Promise<CallToolResult> {
  const parsed = argumentSchema(card, ctx.modelDescription).safeParse(rawArguments);
  if (!parsed.success) {
    return errorResult(`Invalid arguments for ${card.name}: ${z.prettifyError(parsed.error)}\nFix them and call ${card.name} again.`);
  }
  try {
    const result = await card.handler(parsed.data as Parameters<ToolCard["handler"]>[0], ctx);
    // The same JSON twice: structured for clients that read the output schema, as text for those that read only text.
    return {
      ...(result.isError ? { isError: true } : {}),
      content: [{ type: "text", text: JSON.stringify(result.output) }],
      structuredContent: result.output,
    };
  } catch (error) {
    if (error instanceof UserFacingError) {
      return errorResult(error.message);
    }
    console.error(JSON.stringify({ requestId: ctx.requestId, tool: card.name, error: String(error), stack: (error as Error)?.stack }));
    return errorResult(
      `The ${card.name} tool failed unexpectedly (request id ${ctx.requestId}); the server logged the details. Try again, or report it with the request id.`,
    );
  }
}
