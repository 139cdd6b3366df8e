import type { GetPromptResult, Prompt } from "@modelcontextprotocol/server";
import type { ToolCard } from "../tools/define";

/** The original's shortcut names for two tools' slash commands, offered besides the tools' own names. */
const SHORTCUTS: Readonly<Record<string, string>> = { thinkdeeper: "thinkdeep", review: "codereview" };

const CONTINUE_TEXT =
  "Continue the previous conversation with the chat tool. Pass the continuation_id from the last response " +
  "you received from this server, so the other model sees the whole thread; keep the same model unless told otherwise.";

/** Each enabled tool's slash command (by its name, plus the shortcuts), and `continue`. */
function commands(tools: ToolCard[]): Array<{ name: string; tool: ToolCard }> {
  const byName = new Map(tools.map((tool) => [tool.name, tool]));
  const shortcuts = Object.entries(SHORTCUTS).flatMap(([name, target]) => {
    const tool = byName.get(target);
    return tool ? [{ name, tool }] : [];
  });
  return [...tools.map((tool) => ({ name: tool.name, tool })), ...shortcuts];
}

/**
 * MCP prompts: one slash command per enabled tool (`/zen:chat`, `/zen:codereview`, ...), the
 * original's `thinkdeeper` and `review`, and `continue`; each a short instruction telling the
 * assistant which tool to call and how.
 */
export function listPrompts(tools: ToolCard[]): Prompt[] {
  return [
    ...commands(tools).map(({ name, tool }) => ({
      name,
      title: tool.title,
      description: `Use the ${tool.name} tool: ${tool.description}`,
      arguments: tool.modelCategory ? [{ name: "model", description: "Model to use (default: auto)", required: false }] : [],
    })),
    { name: "continue", title: "Continue a conversation", description: "Continue the previous conversation with the chat tool, reusing its continuation_id.", arguments: [] },
  ];
}

export function getPrompt(tools: ToolCard[], name: string, args: Record<string, string> | undefined): GetPromptResult | undefined {
  if (name === "continue") return userMessage(CONTINUE_TEXT);
  const tool = commands(tools).find((command) => command.name === name)?.tool;
  if (!tool) return undefined;
  const model = args?.model && args.model !== "auto" ? ` with model '${args.model}'` : "";
  const steps = "step_number" in tool.input ? " Work in steps from step_number 1, doing the required_actions between calls." : "";
  return userMessage(`Use the ${tool.name} tool${model} for the task at hand. ${tool.description}${steps}`);
}

function userMessage(text: string): GetPromptResult {
  return { messages: [{ role: "user", content: { type: "text", text } }] };
}
