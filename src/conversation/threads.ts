import type { Config } from "../core/config";
import type { ThreadSummary } from "../core/rpc/team";
import type { Env } from "../core/env";
import { ToolError } from "../core/errors";
import { tellTeam } from "../durable/team-activity";
import type { Json, NewTurn, StoredFile, Thread, ThreadInfo, ThreadLimits, WorkflowWrite } from "../core/rpc/conversation";

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

function turnLimitReached(threadId: string, config: Config): ToolError {
  return new ToolError(
    `Conversation thread '${threadId}' has reached its limit of ${config.maxConversationTurns} turns. ` +
      "Start a new conversation without continuation_id and summarize what matters from this one.",
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

export interface ThreadStart {
  creatorTool: string;
  initialContext: { [key: string]: Json };
  title: string;
}

export type CommitResult = { stored: true; info: ThreadInfo } | { stored: false; reason: "not_found" | "turn_limit" };

/**
 * Where a call's turns go: an existing thread, or a new one with a fresh id. Whatever a reply
 * hands out is stored before the reply: `commit` resolves once the turns are durable. A new
 * thread's object is created by that one write, after the model answered: created earlier, while
 * the model thinks, it saved nothing a user would notice (a few ms beside seconds of thinking)
 * and cost a second call into the object (measured: bench/results/engine-split.json).
 */
export class ThreadWriter {
  private constructor(
    private readonly scope: ThreadScope,
    readonly threadId: string,
    private readonly start: ThreadStart | undefined,
  ) {}

  static continuing(scope: ThreadScope, thread: Thread): ThreadWriter {
    return new ThreadWriter(scope, thread.threadId, undefined);
  }

  static starting(scope: ThreadScope, start: ThreadStart): ThreadWriter {
    return new ThreadWriter(scope, crypto.randomUUID(), start);
  }

  /** Stores the turns (with files shown and step state) and resolves when they are durable. */
  async commit(turns: NewTurn[], files: StoredFile[], workflow?: WorkflowWrite): Promise<CommitResult> {
    const limits = limitsOf(this.scope.config);
    const stub = threadStub(this.scope, this.threadId);
    const result = this.start
      ? await stub.create({ threadId: this.threadId, team: this.scope.team, ...this.start }, turns, limits, files, workflow)
      : await stub.appendTurns(turns, limits, files, workflow);
    // Not ok only in a race at the turn cap, or for a thread that expired meanwhile.
    if (!result.ok) return { stored: false, reason: result.reason };
    if (result.reindex) {
      const { threadId, creatorTool, title, turnCount, createdAt, updatedAt, expiresAt } = result.info;
      const summary: ThreadSummary = { threadId, creatorTool, title, turnCount, createdAt, updatedAt, expiresAt };
      tellTeam(this.scope, { thread: summary });
    }
    return { stored: true, info: result.info };
  }
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
