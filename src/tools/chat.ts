import { z } from "zod";
import { defineTool, type ToolResult } from "./define";
import { toolOutput, type ToolOutput } from "./envelope";
import { continuationIdField, filesField, imagesField, temperatureField, thinkingModeField } from "./fields";
import { consult, type ConsultOutcome } from "./consult";
import { CHAT_PROMPT, GENERATE_CODE_PROMPT } from "./prompts/chat";
import { withLocale } from "./prompts/shared";

const AGENT_TURN =
  "\n\n---\n\nAGENT'S TURN: Weigh this perspective against your own analysis, then continue with the user's task.";

const GENERATED_CODE = /<GENERATED-CODE>([\s\S]*?)<\/GENERATED-CODE>/g;

/** Pulls the last generated-code block out of a reply, leaving a pointer to the structured field. */
export function extractGeneratedCode(text: string): { text: string; code?: string } {
  const blocks = [...text.matchAll(GENERATED_CODE)];
  const last = blocks.at(-1);
  if (!last || last[1] === undefined) return { text };
  const note =
    "[The proposed code is in the `generated_code` field of this result. Treat it as a patch proposal: review it, " +
    "apply what fits with your own edits, and verify it; do not paste it blindly.]";
  return { text: text.replace(last[0], note).trim(), code: last[1].trim() };
}

const outputSchema = z.object({
  status: z.string(),
  content: z.string(),
  content_type: z.string(),
  metadata: z.record(z.string(), z.unknown()),
  continuation_offer: z
    .object({ continuation_id: z.string(), note: z.string(), remaining_turns: z.number() })
    .nullable(),
  generated_code: z.string().optional(),
});

/** The envelope of every outcome of a consulting tool, as the original shaped it. */
export function consultResult(tool: string, outcome: ConsultOutcome, decorate: (text: string) => { text: string; code?: string }): ToolResult {
  let output: ToolOutput & { generated_code?: string };
  let isError = false;
  switch (outcome.kind) {
    case "prompt_too_large":
      isError = true;
      output = toolOutput({
        status: "resend_prompt",
        content:
          `The prompt is ${outcome.size} characters, over this server's limit of ${outcome.limit}. ` +
          "Put the long text (logs, code, documents) in a file and pass it in absolute_file_paths, keep the prompt itself short, and call again.",
        metadata: { tool_name: tool, prompt_size: outcome.size, limit: outcome.limit },
      });
      break;
    case "files_required":
      output = toolOutput({
        status: "files_required_to_continue",
        content: JSON.stringify({
          mandatory_instructions:
            "The server does not have these files. Send each as {path, content} in the same field, or run the call through " +
            "the zen-mcp-worker bridge, which uploads local files by itself; then call again.",
          files_needed: outcome.missing,
        }),
        content_type: "json",
        metadata: { tool_name: tool },
      });
      break;
    case "answered": {
      const { call, threadId, remainingExchanges } = outcome;
      const { text, code } = decorate(call.response.text);
      const hasOffer = remainingExchanges > 0;
      output = {
        ...toolOutput({
          status: hasOffer ? "continuation_available" : "success",
          content: text + AGENT_TURN,
          metadata: {
            tool_name: tool,
            model_used: call.model.requestedName,
            model_name: call.response.modelName,
            provider_used: call.model.provider.id,
            usage: call.response.usage,
            ...(call.fallbackFrom ? { fallback_from: call.fallbackFrom } : {}),
          },
          continuation_offer: hasOffer
            ? {
                continuation_id: threadId,
                note: `You can continue this conversation for ${remainingExchanges} more exchanges: pass this continuation_id to any tool.`,
                remaining_turns: remainingExchanges,
              }
            : null,
        }),
        ...(code !== undefined ? { generated_code: code } : {}),
      };
      break;
    }
  }
  return { text: JSON.stringify(output), structured: output as unknown as Record<string, unknown>, isError };
}

export const chat = defineTool({
  name: "chat",
  title: "Chat with another model",
  description:
    "Ask another AI model for a second opinion, brainstorming or an explanation, with files and images as context. " +
    "Returns a continuation_id to keep the thread going with any tool.",
  modelCategory: "fast_response",
  input: {
    prompt: z.string().min(1).describe("Your question or idea, with the context the other model needs."),
    absolute_file_paths: filesField.optional(),
    images: imagesField.optional(),
    temperature: temperatureField.optional(),
    thinking_mode: thinkingModeField.optional(),
    continuation_id: continuationIdField.optional(),
  },
  output: outputSchema,
  annotations: { readOnlyHint: true, openWorldHint: true },
  async handler(args, ctx) {
    const outcome = await consult(ctx, {
      tool: "chat",
      category: "fast_response",
      prompt: args.prompt,
      files: args.absolute_file_paths ?? [],
      images: args.images ?? [],
      ...(args.model ? { model: args.model } : {}),
      ...(args.temperature !== undefined ? { temperature: args.temperature } : {}),
      ...(args.thinking_mode ? { thinkingMode: args.thinking_mode } : {}),
      ...(args.continuation_id ? { continuationId: args.continuation_id } : {}),
      initialContext: { prompt: args.prompt },
      systemPrompt: (model) =>
        withLocale(model.allowCodeGeneration ? `${CHAT_PROMPT}\n\n${GENERATE_CODE_PROMPT}` : CHAT_PROMPT, ctx.config.locale),
    });
    return consultResult("chat", outcome, extractGeneratedCode);
  },
});
