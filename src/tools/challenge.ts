import { z } from "zod";
import { defineTool } from "./define";
import { jsonResult } from "./engine/envelope";

export const challenge = defineTool({
  name: "challenge",
  title: "Challenge a statement",
  description:
    "Use when the user questions or pushes back on your answer: makes you re-examine the claim critically instead of agreeing reflexively. No model call.",
  input: { prompt: z.string().min(1).describe("The statement or pushback to examine, in the user's words.") },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args) {
    const output = {
      status: "challenge_accepted",
      original_statement: args.prompt,
      challenge_prompt:
        "CRITICAL REASSESSMENT – do not simply agree:\n\n" +
        `"${args.prompt}"\n\n` +
        "Check this against the evidence you have (code, docs, earlier findings). If it is right, say so and say what changes. " +
        "If it is wrong or only partly right, explain why with specifics. Do not agree just to please, and do not disagree just to seem independent.",
      instructions: "Present your honest assessment to the user, with the reasoning that supports it.",
    };
    return jsonResult(output);
  },
});
