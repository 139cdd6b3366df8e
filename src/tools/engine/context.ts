import { budgetFor, type TokenBudget } from "../../conversation/budget";
import { historyFilePaths, renderHistory } from "../../conversation/history";
import { loadThread, storedFiles } from "../../conversation/threads";
import type { StoredFile, Thread, Turn } from "../../core/rpc/conversation";
import { ToolError } from "../../core/errors";
import { embedSources, estimateTokens } from "../../files/embed";
import { loadImages } from "../../files/images";
import { isUsableReference, type FileReference } from "../../files/references";
import { MAX_REFERENCES_PER_CALL, resolveReferences, sourcesOf } from "../../files/resolve";
import { type FileEntry } from "../../core/rpc/conversation";
import { MAX_FILES_PER_CALL } from "../../core/wire-contract";
import { chooseModel, type ChosenModel } from "../../providers/call";
import type { ToolCategory } from "../../providers/descriptor";
import type { ImageInput } from "../../providers/types";
import type { ToolContext } from "../define";

/** The thread a call continues, checked to have room for the turns the call will add. */
export async function openThread(ctx: ToolContext, continuationId: string | undefined, newTurns: number): Promise<Thread | undefined> {
  return continuationId ? loadThread(ctx, continuationId, newTurns) : undefined;
}

/**
 * The model a call uses, chosen once (its budgets are planned for it, and it is the one called):
 * the one requested, else the thread's last model (a continuation keeps its model), else auto
 * mode's pick for the tool's category.
 */
export async function chooseModelFor(
  ctx: ToolContext,
  requested: string | undefined,
  category: ToolCategory,
  thread: Thread | undefined,
): Promise<{ chosen: ChosenModel; budget: TokenBudget }> {
  const lastModel = thread?.turns.findLast((turn) => turn.role === "assistant" && turn.model)?.model;
  const chosen = await chooseModel(ctx, { category, ...((requested ?? lastModel) ? { requested: requested ?? lastModel } : {}) });
  return { chosen, budget: budgetFor(chosen.model.capabilities.contextWindow) };
}

export interface RequestInputs {
  files: FileEntry[];
  images: ImageInput[];
  /** Paths the server has no content for: the assistant must upload or inline them. */
  missing: string[];
  /** Files left out before any budget applies (past the per-call limit). */
  skipped: SkippedFile[];
}

/**
 * Refuses file references no file can be named by (too many, or relative paths), without looking
 * any up: a paused step records them and checks them the same.
 */
export function checkReferences(files: FileReference[]): void {
  if (files.length > MAX_REFERENCES_PER_CALL) {
    throw new ToolError(
      `A call may name at most ${MAX_REFERENCES_PER_CALL} files or directories; got ${files.length}. Name a directory instead of its files, or split the work.`,
    );
  }
  const invalid = files.filter((file): file is string => typeof file === "string" && !isUsableReference(file));
  if (invalid.length > 0) {
    throw new ToolError(`File paths must be full absolute paths (or 'sha256:<hex>', or {path, content} inline). Received: ${invalid.join(", ")}`);
  }
}

/** Resolves a call's file references and images; a ToolError for references that cannot be paths. */
export async function resolveInputs(ctx: ToolContext, files: FileReference[], images: string[]): Promise<RequestInputs> {
  checkReferences(files);
  const resolved = await resolveReferences(ctx, files);
  const loaded = await loadImages(ctx, images);
  const skipped =
    resolved.overLimit > 0
      ? [{ path: `(${resolved.overLimit} more files)`, reason: `over the limit of ${MAX_FILES_PER_CALL} files per call: name fewer files or narrower directories` }]
      : [];
  return { files: resolved.entries, images: loaded.inputs, missing: [...resolved.missing, ...loaded.missing], skipped };
}

/** A file a model was not shown, and why, so the assistant can act (split, summarize, or drop it). */
export interface SkippedFile {
  path: string;
  reason: string;
}

export interface RenderedContext {
  /** The thread so far (its files and the turns that fit), or "" for a new thread. */
  history: string;
  /** The call's own files, embedded with line numbers, without those the history shows as they are. */
  files: string;
  /** The call's files left out because the history above already shows them unchanged. */
  alreadyShown: string[];
  skipped: SkippedFile[];
  /** The files embedded by this call: what the thread stores for later turns. */
  shown: StoredFile[];
}

function sameContent(entry: FileEntry, stored: StoredFile | undefined): boolean {
  return stored !== undefined && stored.sha256 === entry.sha256 && stored.content === entry.content;
}

/**
 * What a model is shown of a thread and a call's files, within the model's budgets: the thread's
 * files (newest reference first) and the turns that fit, then the call's files not already shown
 * unchanged. `turns` narrows the history (a workflow shows what came before its own steps).
 */
export async function renderContext(
  ctx: ToolContext,
  options: { thread: Thread | undefined; budget: TokenBudget; files: FileEntry[]; turns?: (turn: Turn) => boolean },
): Promise<RenderedContext> {
  const { thread, budget } = options;
  let history = "";
  const shownInHistory = new Map<string, StoredFile>();
  const historyTurns = thread && options.turns ? thread.turns.filter(options.turns) : thread?.turns;
  if (thread && historyTurns && historyTurns.length > 0) {
    const shownThread = { ...thread, turns: historyTurns };
    const { admitted, omitted } = historyFilePaths(shownThread, budget.files);
    const stored = await storedFiles(ctx, thread.threadId, admitted);
    const embedded = await embedSources(await sourcesOf(ctx, stored), budget.files);
    const embeddedPaths = new Set(embedded.embedded.map((file) => file.path));
    for (const file of stored) if (embeddedPaths.has(file.path)) shownInHistory.set(file.path, file);
    history = renderHistory(shownThread, embedded, omitted.length, budget, ctx.config.maxConversationTurns).text;
  }
  // A file the history already shows is not sent twice, unless its content has changed since.
  const fresh = options.files.filter((entry) => !sameContent(entry, shownInHistory.get(entry.path)));
  const alreadyShown = options.files.filter((entry) => sameContent(entry, shownInHistory.get(entry.path))).map((e) => e.path);
  const sources = await sourcesOf(ctx, fresh);
  const fileBudget = Math.max(1_000, (thread ? budget.content - estimateTokens(history) : budget.files) - 1_000);
  const embedded = await embedSources(sources, fileBudget);
  const embeddedPaths = new Set(embedded.embedded.map((file) => file.path));
  const shown = fresh.flatMap((entry, i) => (embeddedPaths.has(entry.path) ? [{ ...entry, tokens: sources[i]?.tokens ?? 0 }] : []));
  const skipped = sources.flatMap((source): SkippedFile[] => {
    if (source.unavailable === "binary") return [{ path: source.path, reason: "binary content is not shown to models" }];
    if (source.unavailable === "missing") return [{ path: source.path, reason: "its uploaded content is gone; upload it again" }];
    if (embedded.skipped.includes(source.path)) {
      return [{ path: source.path, reason: `over the model's file budget (${fileBudget} tokens left for files; this file needs about ${source.tokens})` }];
    }
    return [];
  });
  return { history, files: embedded.text, alreadyShown, skipped, shown };
}
