import type { ThinkingMode } from "../config";
import { budgetFor } from "../conversation/budget";
import { historyFilePaths, renderHistory } from "../conversation/history";
import {
  appendTurns,
  createThread,
  loadThread,
  remainingExchanges,
  threadFileContents,
  type ThreadScope,
} from "../conversation/threads";
import type { Json, NewTurn, Thread, ThreadInfo } from "../durable/conversation";
import { embedFiles } from "../files/embed";
import { referencePath, resolveFiles, type FileReference } from "../files/references";
import { callModel } from "../providers/call";
import type { ModelCapabilities } from "../providers/capabilities";
import { ModelResolutionError, NO_PROVIDER_MESSAGE, type ResolvedModel, type ToolCategory } from "../providers/registry";
import type { CallResult, ImageInput } from "../providers/types";
import { ToolError, type ToolContext } from "./define";
import { withHeartbeat } from "./heartbeat";

/** A model-calling tool's request, in the shape every such tool shares. */
export interface ConsultRequest {
  tool: string;
  category: ToolCategory;
  prompt: string;
  files: FileReference[];
  images: string[];
  model?: string;
  temperature?: number;
  thinkingMode?: ThinkingMode;
  continuationId?: string;
  /** Arguments of the call (model settings left out), kept as the thread's initial context. */
  initialContext: { [key: string]: Json };
  systemPrompt(model: ModelCapabilities): string;
}

export type ConsultOutcome =
  | { kind: "answered"; call: CallResult; thread: ThreadInfo; remainingExchanges: number }
  | { kind: "files_required"; missing: string[] }
  | { kind: "prompt_too_large"; size: number; limit: number };

const IMAGE_DATA_URL = /^data:(image\/[a-z0-9.+-]+);base64,([A-Za-z0-9+/=\s]+)$/i;

function parseImages(images: string[]): { inputs: ImageInput[]; missing: string[] } {
  const inputs: ImageInput[] = [];
  const missing: string[] = [];
  for (const image of images) {
    const match = IMAGE_DATA_URL.exec(image);
    if (match?.[1] && match[2]) inputs.push({ mediaType: match[1].toLowerCase(), data: match[2].replace(/\s/g, "") });
    else missing.push(image);
  }
  return { inputs, missing };
}

function followUpInstructions(remaining: number): string {
  if (remaining <= 1) {
    return "This is the last exchange this thread allows: give a complete answer and ask no follow-up questions.";
  }
  return (
    `CONVERSATION CONTINUATION: the agent can reply to you in this thread (${remaining} exchanges left). ` +
    "If a follow-up would clearly help (a file to see, a choice to confirm), end with one short request and tell the " +
    "agent to answer through the same continuation_id; otherwise just answer."
  );
}

/** The model to plan budgets for: the requested one, the thread's last one, or auto mode's pick. */
function plannedModel(ctx: ToolContext, requested: string | undefined, category: ToolCategory): ResolvedModel {
  if (ctx.registry.providers.length === 0) throw new ToolError(NO_PROVIDER_MESSAGE);
  if (requested && requested.toLowerCase() !== "auto") return ctx.registry.resolve(requested);
  const preferred = ctx.registry.preferredFor(category);
  if (!preferred) throw new ModelResolutionError("No model is allowed by the current restriction policy. See listmodels.");
  return preferred;
}

function lastAssistantModel(thread: Thread | undefined): string | undefined {
  return thread?.turns.findLast((turn) => turn.role === "assistant" && turn.model)?.model;
}

/**
 * Asks a model, as one exchange of a durable thread: continues the thread when an id is given
 * (its history and files are shown to the model within the model's budgets), or starts one.
 * A cancelled call stores nothing.
 */
export async function consult(ctx: ToolContext, request: ConsultRequest): Promise<ConsultOutcome> {
  if (request.prompt.length > ctx.config.promptSizeLimit) {
    return { kind: "prompt_too_large", size: request.prompt.length, limit: ctx.config.promptSizeLimit };
  }
  const scope: ThreadScope = ctx;
  const thread = request.continuationId ? await loadThread(scope, request.continuationId, 2) : undefined;
  const requestedModel = request.model ?? lastAssistantModel(thread);
  const model = plannedModel(ctx, requestedModel, request.category);
  const budget = budgetFor(model.capabilities.contextWindow);

  const threadPaths = new Set(thread?.files.map((file) => file.path) ?? []);
  const resolved = resolveFiles(request.files, threadPaths);
  if (resolved.invalid.length > 0) {
    throw new ToolError(
      `File paths must be full absolute paths (or 'sha256:<hex>', or {path, content} inline). Received: ${resolved.invalid.join(", ")}`,
    );
  }
  const images = parseImages(request.images);
  const missing = [...resolved.missing, ...images.missing];
  if (missing.length > 0) return { kind: "files_required", missing };

  // History: the thread's files (latest content) and the turns that fit, newest first.
  let history = "";
  const historyContent = new Map<string, string>();
  if (thread) {
    const { admitted, omitted } = historyFilePaths(thread, budget.files);
    const contents = await threadFileContents(scope, thread.threadId, admitted);
    const rendered = renderHistory(thread, contents, omitted, budget, ctx.config.maxConversationTurns);
    history = rendered.text;
    for (const file of contents) if (rendered.filesShown.includes(file.path)) historyContent.set(file.path, file.content);
  }
  // A file the history already shows is not sent twice, unless its content has changed since.
  const freshFiles = resolved.files.filter((file) => historyContent.get(file.path) !== file.content);
  const alreadyShown = request.files.map(referencePath).filter((path) => historyContent.has(path) && !freshFiles.some((f) => f.path === path));
  const fileBudget = Math.max(1_000, budget.files - 1_000);
  const embedded = embedFiles(freshFiles, fileBudget);

  const remainingBefore = remainingExchanges(thread?.turnCount ?? 0, ctx.config);
  const prompt = [
    ...(history ? [history, "", "=== NEW USER INPUT ==="] : ["=== USER REQUEST ==="]),
    request.prompt,
    ...(embedded.embedded.length > 0 || embedded.skipped.length > 0
      ? ["", "=== CONTEXT FILES ===", embedded.text, "=== END CONTEXT FILES ==="]
      : []),
    ...(alreadyShown.length > 0
      ? ["", `(Also referenced, and shown in the conversation history above: ${alreadyShown.join(", ")})`]
      : []),
    ...(history ? [] : ["=== END REQUEST ==="]),
    "",
    followUpInstructions(remainingBefore),
  ].join("\n");

  const choice = { category: request.category, ...(requestedModel ? { requested: requestedModel } : {}) };
  const call = await withHeartbeat(ctx, `Consulting ${model.capabilities.modelName}`, (onProgress) =>
    callModel(
      ctx,
      choice,
      {
        systemPrompt: request.systemPrompt(model.capabilities),
        prompt,
        ...(images.inputs.length > 0 ? { images: images.inputs } : {}),
        ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
        ...(request.thinkingMode ? { thinkingMode: request.thinkingMode } : {}),
      },
      { signal: ctx.signal, onProgress },
    ),
  );

  const filePaths = [...new Set(request.files.map(referencePath))];
  const turns: NewTurn[] = [
    { role: "user", content: request.prompt, files: filePaths, images: request.images.map(describeImage), tool: request.tool },
    {
      role: "assistant",
      content: call.response.text,
      files: [],
      images: [],
      tool: request.tool,
      provider: call.model.provider.id,
      model: call.model.capabilities.modelName,
      usage: call.response.usage,
    },
  ];
  const info = thread
    ? await appendTurns(scope, thread.threadId, turns, resolved.files)
    : await createThread(
        scope,
        { creatorTool: request.tool, initialContext: request.initialContext, title: request.prompt.slice(0, 120) },
        turns,
        resolved.files,
      );
  return { kind: "answered", call, thread: info, remainingExchanges: remainingExchanges(info.turnCount, ctx.config) };
}

/** Images are stored by description, not content: they are not re-sent on continuation. */
function describeImage(image: string): string {
  return image.startsWith("data:") ? `${image.slice(0, image.indexOf(";"))} (inline)` : image;
}
