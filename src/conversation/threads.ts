import type { Config } from "../config";
import type { ConversationDO, Json, NewTurn, StoredFile, Thread, ThreadLimits } from "../durable/conversation";
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

/** How often, and how long apart, a just-issued id is looked up again before it counts as unknown. */
const LOOKUP_RETRIES = 3;
const LOOKUP_RETRY_MS = 100;

/**
 * The thread of a continuation id, with room for `newTurns` more turns; a ToolError when it is
 * malformed, unknown, expired, another team's, or full (checked before any model is called).
 * An exchange is stored just after its reply is sent, so a miss is retried briefly.
 */
export async function loadThread(scope: ThreadScope, threadId: string, newTurns: number): Promise<Thread> {
  if (!UUID.test(threadId)) throw unknownThread(threadId, scope.config);
  const stub = threadStub(scope, threadId);
  let thread = await stub.read();
  for (let retry = 0; !thread && retry < LOOKUP_RETRIES; retry++) {
    await new Promise((resolve) => setTimeout(resolve, LOOKUP_RETRY_MS));
    thread = await stub.read();
  }
  if (!thread) throw unknownThread(threadId, scope.config);
  if (thread.turnCount + newTurns > scope.config.maxConversationTurns) throw turnLimitReached(threadId, scope.config);
  return thread;
}

function turnLimitReached(threadId: string, config: Config): ToolError {
  return new ToolError(
    `Conversation thread '${threadId}' has reached its limit of ${config.maxConversationTurns} turns. ` +
      "Start a new conversation without continuation_id and summarize what matters from this one.",
  );
}

type ThreadStart = { creatorTool: string; initialContext: { [key: string]: Json }; title: string };

/** Where an exchange will be stored: an existing thread, or a new one that it starts. */
export interface ExchangeTarget {
  threadId: string;
  turnCountBefore: number;
  stub: DurableObjectStub<ConversationDO>;
  /** Set for a new thread: created together with its first exchange. */
  start?: ThreadStart;
}

export function existingThread(scope: ThreadScope, thread: Thread): ExchangeTarget {
  return { threadId: thread.threadId, turnCountBefore: thread.turnCount, stub: threadStub(scope, thread.threadId) };
}

/** A new thread with a fresh UUID; its object is created when its first exchange is stored. */
export function newThread(scope: ThreadScope, start: ThreadStart): ExchangeTarget {
  const threadId = crypto.randomUUID();
  return { threadId, turnCountBefore: 0, stub: threadStub(scope, threadId), start };
}

function logNotStored(threadId: string, why: string): void {
  console.error(JSON.stringify({ event: "exchange_not_stored", threadId, why }));
}

/**
 * Stores an exchange without holding up its reply: bringing a new object into existence is the
 * costliest step of a first exchange, and nothing in the reply depends on it. The write goes out
 * as the reply does; a client that continues at once may find it a moment later, which
 * loadThread's retry covers. The team's thread list is told when the thread asks for it (see
 * INDEX_REFRESH_MS in the object).
 */
export function recordExchange(scope: ThreadScope, target: ExchangeTarget, turns: NewTurn[], files: StoredFile[]): void {
  const limits = limitsOf(scope.config);
  const written = target.start
    ? target.stub.create({ threadId: target.threadId, team: scope.team, ...target.start }, turns, limits, files)
    : target.stub.appendTurns(turns, limits, files);
  const stored = (async () => {
    const result = await written;
    // Not ok only in a race at the turn cap, or for a thread that expired meanwhile.
    if (!result.ok) return logNotStored(target.threadId, result.reason);
    if (result.reindex) await scope.env.TEAMS.getByName(scope.team).recordThread(result.info);
  })();
  scope.waitUntil(stored.catch((error: unknown) => logNotStored(target.threadId, String(error))));
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
