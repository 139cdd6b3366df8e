import { z } from "zod";
import { defineTool } from "./define";
import { exchange, renderExchange } from "./engine/exchange";
import { continuationIdField, filesField, imagesField, temperatureField, thinkingModeField } from "./fields";
import { CHAT_PROMPT, GENERATE_CODE_PROMPT } from "./prompts/chat";
import { withLocale } from "./prompts/shared";

const GENERATED_CODE = /<GENERATED-CODE>([\s\S]*?)<\/GENERATED-CODE>/g;

/** Pulls the last generated-code block out of a reply into its own field, leaving a pointer. */
export function extractGeneratedCode(text: string): { text: string; extra?: { generated_code: string } } {
  const last = [...text.matchAll(GENERATED_CODE)].at(-1);
  if (!last || last[1] === undefined) return { text };
  const note =
    "[The proposed code is in the `generated_code` field of this result. Treat it as a patch proposal: review it, " +
    "apply what fits with your own edits, and verify it; do not paste it blindly.]";
  return { text: text.replace(last[0], note).trim(), extra: { generated_code: last[1].trim() } };
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
    working_directory_absolute_path: z.string().optional().describe("Unused: code comes back in generated_code."),
    temperature: temperatureField.optional(),
    thinking_mode: thinkingModeField.optional(),
    continuation_id: continuationIdField.optional(),
  },
  annotations: { readOnlyHint: true, openWorldHint: true },
  async handler(args, ctx) {
    const outcome = await exchange(ctx, {
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
    return renderExchange("chat", outcome, extractGeneratedCode);
  },
});
