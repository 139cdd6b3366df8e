import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";

/** A line of the team's thread list. */
export interface ThreadSummary {
  threadId: string;
  creatorTool: string;
  title: string;
  turnCount: number;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
}

interface SummaryRow extends Record<string, SqlStorageValue> {
  thread_id: string;
  creator_tool: string;
  title: string;
  turn_count: number;
  created_at: number;
  updated_at: number;
  expires_at: number;
}

const MAX_LISTED = 200;

/**
 * The team's index, one object per team: which threads exist, so that users can find a thread
 * again without digging ids out of logs. Threads report to it after each turn, off the hot path.
 */
export class TeamDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS threads (
      thread_id TEXT PRIMARY KEY, creator_tool TEXT NOT NULL, title TEXT NOT NULL, turn_count INTEGER NOT NULL,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)`);
  }

  async recordThread(summary: ThreadSummary): Promise<void> {
    this.sql.exec(
      "INSERT OR REPLACE INTO threads VALUES (?, ?, ?, ?, ?, ?, ?)",
      summary.threadId,
      summary.creatorTool,
      summary.title,
      summary.turnCount,
      summary.createdAt,
      summary.updatedAt,
      summary.expiresAt,
    );
  }

  /** Live threads, most recently updated first; expired ones are dropped as they are found. */
  async listThreads(limit: number): Promise<ThreadSummary[]> {
    this.sql.exec("DELETE FROM threads WHERE expires_at <= ?", Date.now());
    return this.sql
      .exec<SummaryRow>("SELECT * FROM threads ORDER BY updated_at DESC LIMIT ?", Math.min(limit, MAX_LISTED))
      .toArray()
      .map((row) => ({
        threadId: row.thread_id,
        creatorTool: row.creator_tool,
        title: row.title,
        turnCount: row.turn_count,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
        expiresAt: row.expires_at,
      }));
  }
}
