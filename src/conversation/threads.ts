import type { Config } from "../config";
import type { AppendResult, Json, NewTurn, StoredFile, Thread, ThreadInfo, ThreadLimits } from "../durable/conversation";
import type { ThreadSummary } from "../durable/team";
import type { Env } from "../env";
import { ToolError } from "../tools/define";

/**
 * The tools' view of conversation threads: each thread is a ConversationDO named by team and
 * continuation id, so a continuation id of another team names an empty object and is unknown.
 */
export interface ThreadScope {
  env: Env;
  config: Config;
  team: string;
  waitUntil(promise: Promise<unknown>): void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function limitsOf(config: Config): ThreadLimits {
  return { maxTurns: config.maxConversationTurns, ttlMs: config.conversationTimeoutHours * 3_600_000 };
}

function threadStub(scope: ThreadScope, threadId: string) {
  return scope.env.CONVERSATIONS.getByName(`${scope.team}:${threadId.toLowerCase()}`);
}

function unknownThread(threadId: string, config: Config): ToolError {
  return new ToolError(
    `Conversation thread '${threadId}' was not found or has expired. Threads are kept for ` +
      `${config.conversationTimeoutHours} hours after their last turn, and only for the team that created them. ` +
      "Start a new conversation by calling the tool again without continuation_id, and restate the context that matters.",
  );
}

/**
 * The thread of a continuation id, with room for `newTurns` more turns; a ToolError when it is
 * malformed, unknown, expired, another team's, or full (checked before any model is called).
 */
export async function loadThread(scope: ThreadScope, threadId: string, newTurns: number): Promise<Thread> {
  if (!UUID.test(threadId)) throw unknownThread(threadId, scope.config);
  const thread = await threadStub(scope, threadId).read();
  if (!thread) throw unknownThread(threadId, scope.config);
  if (thread.turnCount + newTurns > scope.config.maxConversationTurns) throw turnLimitReached(threadId, scope.config);
  return thread;
}

function recordInIndex(scope: ThreadScope, info: ThreadInfo): void {
  const summary: ThreadSummary = {
    threadId: info.threadId,
    creatorTool: info.creatorTool,
    title: info.title,
    turnCount: info.turnCount,
    createdAt: info.createdAt,
    updatedAt: info.updatedAt,
    expiresAt: info.expiresAt,
  };
  scope.waitUntil(scope.env.TEAMS.getByName(scope.team).recordThread(summary));
}

function checked(scope: ThreadScope, threadId: string, result: AppendResult): ThreadInfo {
  if (result.ok) {
    recordInIndex(scope, result.info);
    return result.info;
  }
  throw result.reason === "turn_limit" ? turnLimitReached(threadId, scope.config) : unknownThread(threadId, scope.config);
}

function turnLimitReached(threadId: string, config: Config): ToolError {
  return new ToolError(
    `Conversation thread '${threadId}' has reached its limit of ${config.maxConversationTurns} turns. ` +
      "Start a new conversation without continuation_id and summarize what matters from this one.",
  );
}

/** Creates a thread with its first turns and returns its info (the id is a fresh UUID). */
export async function createThread(
  scope: ThreadScope,
  start: { creatorTool: string; initialContext: { [key: string]: Json }; title: string },
  turns: NewTurn[],
  files: StoredFile[],
): Promise<ThreadInfo> {
  const threadId = crypto.randomUUID();
  const stub = threadStub(scope, threadId);
  const result = await stub.create({ threadId, team: scope.team, ...start }, turns, limitsOf(scope.config), files);
  return checked(scope, threadId, result);
}

/** Appends turns to a thread; the object serializes concurrent appends. */
export async function appendTurns(scope: ThreadScope, threadId: string, turns: NewTurn[], files: StoredFile[]): Promise<ThreadInfo> {
  return checked(scope, threadId, await threadStub(scope, threadId).appendTurns(turns, limitsOf(scope.config), files));
}

export async function storedFiles(scope: ThreadScope, threadId: string, paths: string[]): Promise<StoredFile[]> {
  return paths.length === 0 ? [] : threadStub(scope, threadId).storedFiles(paths);
}

export async function listThreads(scope: Pick<ThreadScope, "env" | "team">, limit: number): Promise<ThreadSummary[]> {
  return scope.env.TEAMS.getByName(scope.team).listThreads(limit);
}

/** How many more exchanges (a request and its answer) a thread can take. */
export function remainingExchanges(turnCount: number, config: Config): number {
  return Math.max(0, Math.floor((config.maxConversationTurns - turnCount) / 2));
}
