import { DurableObject } from "cloudflare:workers";
import { ThreadStore } from "./thread-store";
import type { AppendResult, ConversationObject, NewTurn, StoredFile, Thread, ThreadInfo, ThreadLimits, WorkflowWrite } from "../core/rpc/conversation";
import type { Env } from "../core/env";

/**
 * One conversation thread, named "<team>:<continuation_id>" (see ThreadStore). Its TTL is the
 * object's alarm, pushed back as turns arrive.
 */
export class ConversationDO extends DurableObject<Env> implements ConversationObject {
  private readonly store: ThreadStore;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new ThreadStore({
      storage: ctx.storage,
      // Not awaited on purpose: the output gate holds the reply until the alarm write is durable.
      expireAt: (at) => void ctx.storage.setAlarm(at),
      deleteAll: () => ctx.storage.deleteAll(),
    });
  }

  async create(
    info: Pick<ThreadInfo, "threadId" | "team" | "creatorTool" | "initialContext" | "title">,
    turns: NewTurn[],
    limits: ThreadLimits,
    files: StoredFile[] = [],
    workflow?: WorkflowWrite,
  ): Promise<AppendResult> {
    return this.store.create(info, turns, limits, files, workflow);
  }

  async read(): Promise<Thread | null> {
    return this.store.read();
  }

  async storedFiles(paths: string[]): Promise<StoredFile[]> {
    return this.store.storedFiles(paths);
  }

  async appendTurns(turns: NewTurn[], limits: ThreadLimits, files: StoredFile[] = [], workflow?: WorkflowWrite): Promise<AppendResult> {
    return this.store.appendTurns(turns, limits, files, workflow);
  }

  override async alarm(): Promise<void> {
    const later = await this.store.expire();
    if (later !== undefined) await this.ctx.storage.setAlarm(later);
  }
}
