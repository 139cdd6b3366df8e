import { ProtocolError, ProtocolErrorCode, Server, type CallToolResult } from "@modelcontextprotocol/server";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/server/validators/cf-worker";
import type { Config } from "../core/config";
import type { ModelRegistry } from "../providers/registry";
import { enabledTools } from "../tools";
import type { ToolContext } from "../tools/define";
import { SERVER_NAME, SERVER_VERSION } from "../core/version";
import { chargeModelCall } from "./model-call-limits";
import { progressReporter } from "./progress";
import { getPrompt, listPrompts } from "./prompts";
import { runTool } from "./run-tool";
import { listTools, modelFieldDescription, topModels, TOOL_OUTPUT_SCHEMA } from "./tool-schemas";

/**
 * What a request brings to its tools (and the team token behind it, whose model-call limit it
 * spends); the MCP layer adds each call's signal, progress and model-call charge.
 */
export type McpRequestDeps = Omit<ToolContext, "signal" | "progress" | "beforeModelCall"> & { tokenDigest: string | undefined };

/** The instructions for a registry and configuration, built once for them, not per request. */
const instructionsByRegistry = new WeakMap<ModelRegistry, { config: Config; text: string }>();

function instructions(config: Config, registry: ModelRegistry): string {
  const cached = instructionsByRegistry.get(registry);
  if (cached?.config === config) return cached.text;
  const text = composeInstructions(config, registry);
  instructionsByRegistry.set(registry, { config, text });
  return text;
}

function composeInstructions(config: Config, registry: ModelRegistry): string {
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
  "Optional: relevant_files (the files that matter; shown to the expert model at the end: give their content again at the " +
    "last step when you sent it inline), files_checked (everything you examined), relevant_context (functions or classes " +
    "involved), issues_found ([{severity: critical|high|medium|low|info, description, ...}]), hypothesis, confidence " +
    "(exploring, low, medium, high, very_high, almost_certain, certain).",
  "At the last step another model checks your work (expert_analysis) unless you are certain or set use_assistant_model " +
    "to false; planner, tracer and docgen call no model. Validate what an expert says before acting on it.",
].join("\n");

/**
 * The JSON-schema validator the SDK would otherwise build for every server (one per request);
 * it is stateless, so one serves every request of the isolate.
 */
const jsonSchemaValidator = new CfWorkerJsonSchemaValidator();

/**
 * How long a client may reuse a list (2026-07-28's `ttlMs`): the tools and prompts change only
 * with the deploy's configuration. Private: the `model` field names this deploy's models.
 */
const LIST_CACHE_HINT = { ttlMs: 5 * 60_000, cacheScope: "private" } as const;

/**
 * One MCP server for one request, for either protocol era: the 2026-07-28 revision (per-request
 * envelope, no session) and the 2025 handshake both reach the same handlers. The low-level
 * `Server` rather than `McpServer`: tools/list is answered from a cache of the tools' JSON
 * schemas (built once per configuration, not per request), and arguments are checked with
 * messages written for the assistant (run-tool.ts).
 */
export function buildServer(deps: McpRequestDeps): Server {
  const tools = enabledTools(deps.config);
  const modelDescription = modelFieldDescription(deps.config, deps.registry);
  const server = new Server(
    { name: SERVER_NAME, version: SERVER_VERSION },
    {
      capabilities: { tools: {}, prompts: {} },
      instructions: instructions(deps.config, deps.registry),
      jsonSchemaValidator,
      cacheHints: { "tools/list": LIST_CACHE_HINT, "prompts/list": LIST_CACHE_HINT },
    },
  );

  server.setRequestHandler("tools/list", async () => ({
    tools: await listTools(deps.env.CACHE, tools, modelDescription, deps.waitUntil),
  }));

  server.setRequestHandler("tools/call", async (call, ctx): Promise<CallToolResult> => {
    const card = tools.find((tool) => tool.name === call.params.name);
    if (!card) {
      const names = tools.map((tool) => tool.name).join(", ");
      return { isError: true, content: [{ type: "text", text: `Unknown tool '${call.params.name}'. Available tools: ${names}.` }] };
    }
    const result = await runTool(card, call.params.arguments ?? {}, {
      ...deps,
      signal: ctx.mcpReq.signal,
      modelDescription,
      progress: progressReporter(ctx.mcpReq._meta?.progressToken, (notification) => ctx.mcpReq.notify(notification)),
      beforeModelCall: onceAtMost(() => chargeModelCall(deps)),
    });
    return server.projectCallToolResult(result, TOOL_OUTPUT_SCHEMA);
  });

  server.setRequestHandler("prompts/list", async () => ({ prompts: listPrompts(tools) }));
  server.setRequestHandler("prompts/get", async (call) => {
    const prompt = getPrompt(tools, call.params.name, call.params.arguments);
    if (!prompt) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown prompt '${call.params.name}'. Use prompts/list to see them.`);
    return prompt;
  });
  return server;
}

/** The work of `start`, begun at its first call and shared by the later ones. */
function onceAtMost(start: () => Promise<void>): () => Promise<void> {
  let started: Promise<void> | undefined;
  return () => (started ??= start());
}
