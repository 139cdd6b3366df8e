import type { GetPromptResult, Prompt } from "@modelcontextprotocol/sdk/types.js";
import type { ToolCard } from "../tools/define";

/**
 * MCP prompts: one slash command per enabled tool (`/zen:chat`, `/zen:review`, ...) plus
 * `continue`, each a short instruction telling the assistant which tool to call and how.
 */
export function listPrompts(tools: ToolCard[]): Prompt[] {
  return [
    ...tools.map((tool) => ({
      name: tool.promptName ?? tool.name,
      title: tool.title,
      description: `Use the ${tool.name} tool: ${tool.description}`,
      arguments: tool.modelCategory ? [{ name: "model", description: "Model to use (default: auto)", required: false }] : [],
    })),
    {
      name: "continue",
      title: "Continue a conversation",
      description: "Continue the previous conversation with the chat tool, reusing its continuation_id.",
      arguments: [],
    },
  ];
}

export function getPrompt(tools: ToolCard[], name: string, args: Record<string, string> | undefined): GetPromptResult | undefined {
  if (name === "continue") {
    return userMessage(
      "Continue the previous conversation with the chat tool. Pass the continuation_id from the last response " +
        "you received from this server, so the other model sees the whole thread; keep the same model unless told otherwise.",
    );
  }
  const tool = tools.find((t) => (t.promptName ?? t.name) === name);
  if (!tool) return undefined;
  const model = args?.model && args.model !== "auto" ? ` with model '${args.model}'` : "";
  return userMessage(`Use the ${tool.name} tool${model} for the task at hand. ${tool.description}`);
}

function userMessage(text: string): GetPromptResult {
  return { messages: [{ role: "user", content: { type: "text", text } }] };
}
