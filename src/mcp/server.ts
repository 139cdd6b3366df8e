import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListToolsRequestSchema,
  McpError,
  type CallToolResult,
} from "@modelcontextprotocol/sdk/types.js";
import type { Config } from "../config";
import type { ModelRegistry } from "../providers/registry";
import { enabledTools } from "../tools";
import type { ToolContext } from "../tools/define";
import { SERVER_NAME, SERVER_VERSION } from "../version";
import { getPrompt, listPrompts } from "./prompts";
import { runTool } from "./run-tool";
import { listTools, modelFieldDescription, topModels } from "./tool-schemas";

/** What a request brings to its tools; the MCP layer adds the call's signal and progress. */
export type McpRequestDeps = Omit<ToolContext, "signal" | "progress">;

function instructions(config: Config, registry: ModelRegistry): string {
  const selection = registry.autoMode
    ? "Models: when the user names a model, pass that exact name or alias as `model`; otherwise omit `model` and the server " +
      "picks one suited to the tool."
    : `Models: the default is '${config.defaultModel}'; pass \`model\` only when the user names another.`;
  return [
    "This server consults other AI models for second opinions: chat, deep thinking, reviews, debugging, consensus, planning.",
    `${selection} ${topModels(registry)}`,
    "Threads: model-calling and step tools return a continuation_id. Pass the last one you received to continue a thread " +
      "with any tool and any model: the other model then sees the earlier turns and files.",
    "Files: absolute paths (the zen-mcp-worker bridge uploads them), 'sha256:<hex>' references, or {path, content} objects. " +
      "images: absolute paths or data:image/... URLs. temperature: 0-1. thinking_mode: minimal, low, medium, high or max.",
    STEP_PROTOCOL,
  ].join("\n");
}

/** The protocol every step tool shares, said once here instead of in each tool's schema. */
const STEP_PROTOCOL = [
  "Step tools (thinkdeep, debug, codereview, precommit, secaudit, analyze, refactor, testgen, tracer, docgen, planner, " +
    "consensus) run in steps. Each call sends step (what you do or found now), step_number (from 1), total_steps (your " +
    "estimate; may grow), next_step_required (true until the last step) and findings (what you learned). Pass the " +
    "continuation_id that step 1 returned in every later step.",
  "Between steps the tool pauses (status pause_for_...): do its required_actions yourself (read code, run checks) before " +
    "the next call; the server never reads your disk.",
  "Optional: relevant_files (the files that matter; shown to the expert model at the end), files_checked (everything you " +
    "examined), relevant_context (functions or classes involved), issues_found ([{severity: critical|high|medium|low, " +
    "description}]), hypothesis, confidence (exploring, low, medium, high, very_high, almost_certain, certain).",
  "At the last step another model checks your work (expert_analysis) unless you are certain or set use_assistant_model " +
    "to false; planner, tracer and docgen call no model. Validate what an expert says before acting on it.",
].join("\n");

/**
 * The SDK builds a JSON-schema validator (an Ajv instance, a third of a small request's CPU) for
 * every server unless given one; it is stateless, so one serves every request of the isolate.
 */
const jsonSchemaValidator = new AjvJsonSchemaValidator();

/**
 * Serves one MCP request over Streamable HTTP, statelessly: a fresh server and transport per
 * request, never shared (the SDK refuses reuse, and a shared stateless transport can hand one
 * client's reply to another). Responses stream as SSE so progress notifications arrive.
 */
export async function handleMcpRequest(request: Request, deps: McpRequestDeps): Promise<Response> {
  const tools = enabledTools(deps.config);
  const server = new Server(
    { name: SERVER_NAME, version: SERVER_VERSION },
    { capabilities: { tools: {}, prompts: {}, logging: {} }, instructions: instructions(deps.config, deps.registry), jsonSchemaValidator },
  );

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: await listTools(deps.env.CACHE, tools, modelFieldDescription(deps.config, deps.registry), deps.waitUntil),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (call, extra): Promise<CallToolResult> => {
    const card = tools.find((tool) => tool.name === call.params.name);
    if (!card) {
      const names = tools.map((tool) => tool.name).join(", ");
      return { isError: true, content: [{ type: "text", text: `Unknown tool '${call.params.name}'. Available tools: ${names}.` }] };
    }
    const progressToken = extra._meta?.progressToken;
    let step = 0;
    return runTool(card, call.params.arguments ?? {}, {
      ...deps,
      signal: extra.signal,
      modelDescription: modelFieldDescription(deps.config, deps.registry),
      async progress(message) {
        if (progressToken === undefined) return;
        step += 1;
        await extra.sendNotification({ method: "notifications/progress", params: { progressToken, progress: step, message } });
      },
    });
  });

  server.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: listPrompts(tools) }));
  server.setRequestHandler(GetPromptRequestSchema, async (call) => {
    const prompt = getPrompt(tools, call.params.name, call.params.arguments);
    if (!prompt) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt '${call.params.name}'. Use prompts/list to see them.`);
    return prompt;
  });

  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    maxRequestBodySize: deps.config.maxRequestBodyBytes,
  });
  await server.connect(transport);
  // A client that hangs up (or cancels by dropping its stream) must not leave a model call
  // running: closing the server aborts the handlers' signals, which abort their upstream fetches
  // before any turn is stored. Stateless, a later `notifications/cancelled` POST cannot reach
  // this request, so the disconnect is the signal.
  const disconnected = () => void server.close();
  request.signal.addEventListener("abort", disconnected, { once: true });
  return closeOnCancel(await transport.handleRequest(request), disconnected);
}

/** The same response, calling `onCancel` when its body stream is cancelled by the runtime or client. */
function closeOnCancel(response: Response, onCancel: () => void): Response {
  if (!response.body) return response;
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      onCancel();
      return reader.cancel(reason);
    },
  });
  return new Response(body, response);
}
