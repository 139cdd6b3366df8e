import type { ToolResult } from "../define";

/**
 * The original's response envelope: every simple tool answers with this JSON as its text,
 * all five keys always present, so assistants' habits with it carry over.
 */
export interface ContinuationOffer {
  continuation_id: string;
  note: string;
  remaining_turns: number;
}

export interface ToolOutput {
  status: string;
  content: string;
  content_type: "text" | "markdown" | "json";
  metadata: Record<string, unknown>;
  continuation_offer: ContinuationOffer | null;
}

export function toolOutput(output: Partial<ToolOutput> & Pick<ToolOutput, "status" | "content">): ToolOutput {
  return {
    content_type: "text",
    metadata: {},
    continuation_offer: null,
    ...output,
  };
}

/** A tool's JSON answer. */
export function jsonResult(output: object, options: { isError?: boolean } = {}): ToolResult {
  return { output: output as Record<string, unknown>, ...(options.isError ? { isError: true } : {}) };
}

/**
 * The offer to continue a stored thread, or null when it has no room left. Like the original's,
 * `remaining_turns` counts turns (a request and a model's answer are two; a paused step is one).
 */
export function continuationOffer(threadId: string, remainingTurns: number): ContinuationOffer | null {
  if (remainingTurns <= 0) return null;
  return {
    continuation_id: threadId,
    note: `You can continue this conversation for ${remainingTurns} more turns (an exchange with a model takes two): pass this continuation_id to any tool.`,
    remaining_turns: remainingTurns,
  };
}

/** Over MCP_PROMPT_SIZE_LIMIT: the original's `resend_prompt` contract. */
export function resendPromptOutput(tool: string, field: string, size: number, limit: number): ToolOutput {
  return toolOutput({
    status: "resend_prompt",
    content:
      `The ${field} is ${size} characters, over this server's limit of ${limit}. ` +
      "Put the long text (logs, code, documents) in a file and pass it as a file, keep the text itself short, and call again.",
    metadata: { tool_name: tool, prompt_size: size, limit },
  });
}

/**
 * Files the server lacks: the original's `files_required_to_continue` contract. A step tool adds
 * `next_steps` saying how to send the same step again.
 */
export function filesRequiredOutput(tool: string, missing: string[], nextSteps?: string): ToolOutput & { next_steps?: string } {
  const output = toolOutput({
    status: "files_required_to_continue",
    content: JSON.stringify({
      mandatory_instructions:
        "The server does not have these files. Send each as {path, content} in the same field, or run the call through " +
        "the zen-mcp-worker bridge, which uploads local files by itself; then call again.",
      files_needed: missing,
    }),
    content_type: "json",
    metadata: { tool_name: tool },
  });
  return nextSteps ? { ...output, next_steps: nextSteps } : output;
}
