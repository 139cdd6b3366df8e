import type { ThinkingMode } from "../config";
import { budgetFor } from "../conversation/budget";
import { historyFilePaths, renderHistory } from "../conversation/history";
import { existingThread, loadThread, newThread, recordExchange, remainingExchanges, storedFiles } from "../conversation/threads";
import type { Json, NewTurn, StoredFile, Thread } from "../durable/conversation";
import { embedSources } from "../files/embed";
import { loadImages } from "../files/images";
import type { FileReference } from "../files/references";
import { resolveReferences, sourceOf, type FileEntry } from "../files/resolve";
import { callModel } from "../providers/call";
import type { ModelCapabilities } from "../providers/capabilities";
import { ModelResolutionError, NO_PROVIDER_MESSAGE, type ResolvedModel, type ToolCategory } from "../providers/registry";
import type { CallResult } from "../providers/types";
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
  | { kind: "answered"; call: CallResult; threadId: string; remainingExchanges: number }
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

function sameContent(entry: FileEntry, stored: StoredFile | undefined): boolean {
  return stored !== undefined && stored.sha256 === entry.sha256 && stored.content === entry.content;
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

/**
 * Asks a model, as one exchange of a durable thread: continues the thread when an id is given
 * (its history and files are shown to the model within the model's budgets), or starts one.
 * The exchange is stored as the reply goes out; a cancelled or failed call stores nothing.
 */
export async function consult(ctx: ToolContext, request: ConsultRequest): Promise<ConsultOutcome> {
  // At once, before any work: a client under load learns at the earliest that the call is alive.
  await ctx.progress(`${request.tool}: preparing the request`);
  if (request.prompt.length > ctx.config.promptSizeLimit) {
    return { kind: "prompt_too_large", size: request.prompt.length, limit: ctx.config.promptSizeLimit };
  }
  const thread = request.continuationId ? await loadThread(ctx, request.continuationId, 2) : undefined;
  const requestedModel = request.model ?? lastAssistantModel(thread);
  const model = plannedModel(ctx, requestedModel, request.category);
  const budget = budgetFor(model.capabilities.contextWindow);

  const resolved = await resolveReferences(ctx, request.files);
  if (resolved.invalid.length > 0) {
    throw new ToolError(
      `File paths must be full absolute paths (or 'sha256:<hex>', or {path, content} inline). Received: ${resolved.invalid.join(", ")}`,
    );
  }
  const images = await loadImages(ctx, request.images);
  const missing = [...resolved.missing, ...images.missing];
  if (missing.length > 0) return { kind: "files_required", missing };

  // History: the thread's files as last sent, newest reference first, and the turns that fit.
  let history = "";
  const shownInHistory = new Map<string, StoredFile>();
  if (thread) {
    const { admitted, omitted } = historyFilePaths(thread, budget.files);
    const stored = await storedFiles(ctx, thread.threadId, admitted);
    const embedded = await embedSources(await Promise.all(stored.map((file) => sourceOf(ctx, file))), budget.files);
    const embeddedPaths = new Set(embedded.embedded.map((file) => file.path));
    for (const file of stored) if (embeddedPaths.has(file.path)) shownInHistory.set(file.path, file);
    history = renderHistory(thread, embedded, omitted.length, budget, ctx.config.maxConversationTurns).text;
  }
  // A file the history already shows is not sent twice, unless its content has changed since.
  const sources = await Promise.all(resolved.entries.map((entry) => sourceOf(ctx, entry)));
  const fresh = sources.filter((_, i) => !sameContent(resolved.entries[i]!, shownInHistory.get(resolved.entries[i]!.path)));
  const alreadyShown = resolved.entries.filter((entry) => sameContent(entry, shownInHistory.get(entry.path))).map((e) => e.path);
  const embedded = await embedSources(fresh, Math.max(1_000, budget.files - 1_000));
  const prompt = composePrompt({
    history,
    request: request.prompt,
    files: embedded.text,
    alreadyShown,
    remaining: remainingExchanges(thread?.turnCount ?? 0, ctx.config),
  });

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

  const files: StoredFile[] = resolved.entries.map((entry, i) => ({ ...entry, tokens: sources[i]?.tokens ?? 0 }));
  const turns: NewTurn[] = [
    { role: "user", content: request.prompt, files: files.map((f) => f.path), images: request.images.map(describeImage), tool: request.tool },
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
  const target = thread
    ? existingThread(ctx, thread)
    : newThread(ctx, { creatorTool: request.tool, initialContext: request.initialContext, title: request.prompt.slice(0, 120) });
  recordExchange(ctx, target, turns, files);
  return {
    kind: "answered",
    call,
    threadId: target.threadId,
    remainingExchanges: remainingExchanges(target.turnCountBefore + turns.length, ctx.config),
  };
}

/** Images are stored by description, not content: they are not re-sent on continuation. */
function describeImage(image: string): string {
  return image.startsWith("data:") ? `${image.slice(0, image.indexOf(";"))} (inline)` : image;
}
