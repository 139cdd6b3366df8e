import { z } from "zod";
import { defineTool } from "./define";
import { jsonResult } from "./engine/envelope";

const LOOKUP_INSTRUCTIONS = `Answer this with current documentation, not from memory: APIs, versions and deprecations change.
1. Run the lookup in a sub-task with your own web-search tool, so the main conversation stays focused.
2. First find the current version of the language, framework or SDK involved (and of the user's OS if relevant).
3. Search the official documentation, release notes or changelog; use 2 to 4 targeted searches, not more.
4. Prefer primary sources over blog posts; note the version and date each fact applies to.
5. Reply with the answer, the version it applies to, a minimal example if useful, and links to the sources.`;

export const apilookup = defineTool({
  name: "apilookup",
  title: "Look up current API docs",
  description:
    "Use for questions about current APIs, SDK versions, breaking changes or deprecations: returns instructions to research them with your own web search. No model call.",
  input: { prompt: z.string().min(1).describe("The API, SDK or version question to research.") },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args) {
    const output = { status: "web_lookup_needed", instructions: LOOKUP_INSTRUCTIONS, user_prompt: args.prompt };
    return jsonResult(output);
  },
});
