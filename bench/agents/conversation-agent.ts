import { Agent } from "agents";
import { ThreadStore } from "../../src/durable/thread-store.ts";
import type { AppendResult, NewTurn, StoredFile, Thread, ThreadInfo, ThreadLimits, WorkflowWrite } from "../../src/core/rpc/conversation.ts";
import type { Env } from "../../src/core/env.ts";

/** The thread's expiry timer: the one schedule that drops the thread, and when it fires (ms). */
interface ExpiryState {
  scheduleId: string | null;
  at: number;
}

/**
 * For measurement only (bench/agents.ts): src/durable/conversation.ts rebuilt on the `agents`
 * package's Agent base class, the same RPC methods over the same ThreadStore, its TTL kept with
 * the Agent's schedule() instead of the object's alarm.
 */
export class ConversationDO extends Agent<Env, ExpiryState> {
  override initialState: ExpiryState = { scheduleId: null, at: 0 };
  private readonly store: ThreadStore;
  /** The expiry the store asked for during the current (synchronous) store call. */
  private requestedExpiry: number | undefined;
  /** Moves of the schedule, one after another, so concurrent calls never both replace the same one. */
  private expiryMoves: Promise<void> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new ThreadStore({
      storage: ctx.storage,
      // schedule() is asynchronous: the call that wrote the turns moves the schedule before it returns.
      expireAt: (at) => {
        this.requestedExpiry = Math.max(this.requestedExpiry ?? 0, at);
      },
      deleteAll: () => this.destroy(),
    });
  }

  async create(
    info: Pick<ThreadInfo, "threadId" | "team" | "creatorTool" | "initialContext" | "title">,
    turns: NewTurn[],
    limits: ThreadLimits,
    files: StoredFile[] = [],
    workflow?: WorkflowWrite,
  ): Promise<AppendResult> {
    return this.afterWrite(this.store.create(info, turns, limits, files, workflow));
  }

  async read(): Promise<Thread | null> {
    return this.store.read();
  }

  async storedFiles(paths: string[]): Promise<StoredFile[]> {
    return this.store.storedFiles(paths);
  }

  async appendTurns(turns: NewTurn[], limits: ThreadLimits, files: StoredFile[] = [], workflow?: WorkflowWrite): Promise<AppendResult> {
    return this.afterWrite(this.store.appendTurns(turns, limits, files, workflow));
  }

  /** The schedule's callback. */
  async expireThread(): Promise<void> {
    // The schedule that fired is used up.
    this.setState({ scheduleId: null, at: 0 });
    const later = await this.store.expire();
    if (later !== undefined) await this.moveExpiry(later);
  }

  private async afterWrite(result: AppendResult): Promise<AppendResult> {
    const at = this.requestedExpiry;
    this.requestedExpiry = undefined;
    if (at !== undefined) await this.moveExpiry(at);
    return result;
  }

  private moveExpiry(at: number): Promise<void> {
    const move = this.expiryMoves.then(async () => {
      const { scheduleId, at: current } = this.state;
      if (at <= current) return;
      const next = await this.schedule(new Date(at), "expireThread");
      this.setState({ scheduleId: next.id, at });
      if (scheduleId) await this.cancelSchedule(scheduleId);
    });
    this.expiryMoves = move.catch(() => undefined);
    return move;
  }
}
