import type { ThinkingMode } from "../../core/config";
import { remainingExchanges, ThreadWriter, type CommitResult } from "../../conversation/threads";
import type { Json, NewTurn } from "../../core/rpc/conversation";
import type { FileReference } from "../../files/references";
import type { ModelCapabilities } from "../../providers/capabilities";
import type { ToolCategory } from "../../providers/descriptor";
import type { CallResult } from "../../providers/call";
import type { ToolContext, ToolResult } from "../define";
import { askModel } from "./ask";
import { chooseModelFor, openThread, renderContext, resolveInputs, type SkippedFile } from "./context";
import { continuationOffer, filesRequiredOutput, jsonResult, resendPromptOutput, toolOutput } from "./envelope";

/** One question to one model, as an exchange of a durable thread (chat's shape). */
export interface ExchangeRequest {
  tool: string;
  category: ToolCategory;
  prompt: string;
  files: FileReference[];
  images: string[];
  model?: string;
  temperature?: number;
  thinkingMode?: ThinkingMode;
  continuationId?: string;
  /** Arguments of the call (model settings and files left out), kept as a new thread's initial context. */
  initialContext: { [key: string]: Json };
  systemPrompt(model: ModelCapabilities): string;
}

export type ExchangeOutcome =
  | { kind: "answered"; call: CallResult; threadId: string; remainingTurns: number; skipped: SkippedFile[] }
  | { kind: "files_required"; missing: string[] }
  | { kind: "prompt_too_large"; size: number; limit: number };

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

/** The user content: the history when continuing, the request, its new files, the follow-up rules. */
function composePrompt(parts: { history: string; request: string; files: string; alreadyShown: string[]; remaining: number }): string {
  return [
    ...(parts.history ? [parts.history, "", "=== NEW USER INPUT ==="] : ["=== USER REQUEST ==="]),
    parts.request,
    ...(parts.files !== "" ? ["", "=== CONTEXT FILES ===", parts.files, "=== END CONTEXT FILES ==="] : []),
    ...(parts.alreadyShown.length > 0
      ? ["", `(Also referenced, and shown in the conversation history above: ${parts.alreadyShown.join(", ")})`]
      : []),
    ...(parts.history ? [] : ["=== END REQUEST ==="]),
    "",
    followUpInstructions(parts.remaining),
  ].join("\n");
}

/** Images are stored by description, not content: they are not re-sent on continuation. */
export function describeImage(image: string): string {
  return image.startsWith("data:") ? `${image.slice(0, image.indexOf(";"))} (inline)` : image;
}

/** The turn that records a model's answer. */
export function modelTurn(tool: string, call: CallResult, content = call.response.text): NewTurn {
  return {
    role: "assistant",
    content,
    files: [],
    images: [],
    tool,
    provider: call.model.provider.id,
    model: call.model.capabilities.modelName,
    usage: call.response.usage,
  };
}

/** Turns the thread has room for after a commit; none when the turns could not be stored (no id is handed out then). */
export function remainingAfter(commit: CommitResult, ctx: ToolContext): number {
  return commit.stored ? Math.max(0, ctx.config.maxConversationTurns - commit.info.turnCount) : 0;
}

/** The model a call will ask, as far as it is known before any work: a name the registry resolves is given as the model's. */
function modelToAnnounce(ctx: ToolContext, request: ExchangeRequest): string {
  if (request.model) return ctx.registry.tryResolve(request.model)?.capabilities.modelName ?? request.model;
  return request.continuationId ? "the thread's model" : "the model auto mode picks";
}

/**
 * Asks a model, as one exchange of a durable thread: continues the thread when an id is given
 * (its history and files are shown to the model within the budgets of the model that is then
 * called), or starts one. The exchange is stored before the outcome is returned; a cancelled or
 * failed call stores nothing.
 */
export async function exchange(ctx: ToolContext, request: ExchangeRequest): Promise<ExchangeOutcome> {
  // At once, before any work: a client under load learns at the earliest that the call is alive.
  await ctx.progress(`${request.tool}: preparing the request for ${modelToAnnounce(ctx, request)}`);
  if (request.prompt.length > ctx.config.promptSizeLimit) {
    return { kind: "prompt_too_large", size: request.prompt.length, limit: ctx.config.promptSizeLimit };
  }
  const thread = await openThread(ctx, request.continuationId, 2);
  const { chosen, budget } = await chooseModelFor(ctx, request.model, request.category, thread);
  const inputs = await resolveInputs(ctx, request.files, request.images);
  if (inputs.missing.length > 0) return { kind: "files_required", missing: inputs.missing };
  const context = await renderContext(ctx, { thread, budget, files: inputs.files });
  const prompt = composePrompt({
    history: context.history,
    request: request.prompt,
    files: context.files,
    alreadyShown: context.alreadyShown,
    remaining: remainingExchanges(thread?.turnCount ?? 0, ctx.config),
  });

  const writer = thread
    ? ThreadWriter.continuing(ctx, thread)
    : ThreadWriter.starting(ctx, { creatorTool: request.tool, initialContext: request.initialContext, title: request.prompt.slice(0, 120) });
  const call = await askModel(ctx, chosen, {
    systemPrompt: request.systemPrompt(chosen.model.capabilities),
    prompt,
    ...(inputs.images.length > 0 ? { images: inputs.images } : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.thinkingMode ? { thinkingMode: request.thinkingMode } : {}),
  });

  const requestTurn: NewTurn = {
    role: "user",
    content: request.prompt,
    files: [...context.shown.map((file) => file.path), ...context.alreadyShown],
    images: request.images.map(describeImage),
    tool: request.tool,
  };
  const commit = await writer.commit([requestTurn, modelTurn(request.tool, call)], context.shown);
  return {
    kind: "answered",
    call,
    threadId: writer.threadId,
    remainingTurns: remainingAfter(commit, ctx),
    skipped: [...inputs.skipped, ...context.skipped],
  };
}

const AGENT_TURN =
  "\n\n---\n\nAGENT'S TURN: Weigh this perspective against your own analysis, then continue with the user's task.";

/**
 * The envelope of every outcome of an exchange, as the original shaped it. `decorate` lets a
 * tool rework the answer text and add fields (chat moves generated code to its own field).
 */
export function renderExchange(
  tool: string,
  outcome: ExchangeOutcome,
  decorate: (text: string) => { text: string; extra?: Record<string, unknown> } = (text) => ({ text }),
): ToolResult {
  switch (outcome.kind) {
    case "prompt_too_large":
      return jsonResult(resendPromptOutput(tool, "prompt", outcome.size, outcome.limit), { isError: true });
    case "files_required":
      return jsonResult(filesRequiredOutput(tool, outcome.missing));
    case "answered": {
      const { call, threadId, remainingTurns, skipped } = outcome;
      const { text, extra } = decorate(call.response.text);
      const offer = continuationOffer(threadId, remainingTurns);
      const output = toolOutput({
        status: offer ? "continuation_available" : "success",
        content: text + AGENT_TURN,
        metadata: {
          tool_name: tool,
          model_used: call.model.requestedName,
          model_name: call.response.modelName,
          provider_used: call.model.provider.id,
          usage: call.response.usage,
          ...(call.model.note ? { model_note: call.model.note } : {}),
          ...(call.fallbackFrom ? { fallback_from: call.fallbackFrom } : {}),
          ...(skipped.length > 0 ? { files_skipped: skipped } : {}),
        },
        continuation_offer: offer,
      });
      return jsonResult({ ...output, ...extra });
    }
  }
}
