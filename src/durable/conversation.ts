import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import type { FileEntry } from "../files/resolve";

type JsonLeaf = string | number | boolean | null;
/**
 * JSON of bounded depth for tool arguments and metadata: a recursive type is too deep for the
 * RPC stub's type mapping, and `unknown` would erase the stub's return types.
 */
export type Json = JsonLeaf | JsonLeaf[] | { [key: string]: JsonLeaf | JsonLeaf[] } | Array<{ [key: string]: JsonLeaf }>;

/** One message of a thread: the assistant's request or the model's answer. */
export interface Turn {
  index: number;
  role: "user" | "assistant";
  content: string;
  /** Paths (or references) of the files this turn used, newest-first dedup happens at read time. */
  files: string[];
  images: string[];
  tool: string;
  provider?: string;
  model?: string;
  usage?: { inputTokens: number; outputTokens: number; totalTokens: number };
  metadata?: { [key: string]: Json };
  createdAt: number;
}

export type NewTurn = Omit<Turn, "index" | "createdAt">;

export interface ThreadInfo {
  threadId: string;
  team: string;
  creatorTool: string;
  /** Arguments of the first call (without model settings), merged into later calls that omit them. */
  initialContext: { [key: string]: Json };
  title: string;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  turnCount: number;
}

/**
 * A file the thread has seen, as last sent: inline content is kept here, an uploaded file by its
 * content hash, so history shows what the model last saw.
 */
export interface StoredFile extends FileEntry {
  tokens: number;
}

export interface FileMeta {
  path: string;
  tokens: number;
  updatedAt: number;
}

export interface Thread extends ThreadInfo {
  turns: Turn[];
  files: FileMeta[];
}

export interface ThreadLimits {
  maxTurns: number;
  ttlMs: number;
}

export type AppendResult =
  /** `reindex`: the team's thread list should be told (first exchange, or its entry is getting old). */
  | { ok: true; turnCount: number; info: ThreadInfo; reindex: boolean }
  | { ok: false; reason: "not_found" | "turn_limit"; turnCount: number };

interface ThreadRow extends Record<string, SqlStorageValue> {
  thread_id: string;
  team: string;
  creator_tool: string;
  initial_context: string;
  title: string;
  created_at: number;
  updated_at: number;
  expires_at: number;
  indexed_at: number;
}

interface TurnRow extends Record<string, SqlStorageValue> {
  idx: number;
  role: string;
  content: string;
  files: string;
  images: string;
  tool: string;
  provider: string | null;
  model: string | null;
  usage: string | null;
  metadata: string | null;
  created_at: number;
}

/**
 * One conversation thread, named "<team>:<continuation_id>". Its methods run one at a time and
 * make no awaits between reading and writing, so concurrent continuations of one thread are
 * serialized: no turn is lost or duplicated. The TTL is an alarm, pushed back on every turn.
 */
export class ConversationDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.createSchema();
  }

  private createSchema(): void {
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS thread (
        thread_id TEXT PRIMARY KEY, team TEXT NOT NULL, creator_tool TEXT NOT NULL,
        initial_context TEXT NOT NULL, title TEXT NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, indexed_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS turns (
        idx INTEGER PRIMARY KEY, role TEXT NOT NULL, content TEXT NOT NULL,
        files TEXT NOT NULL, images TEXT NOT NULL, tool TEXT NOT NULL,
        provider TEXT, model TEXT, usage TEXT, metadata TEXT, created_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS files (
        path TEXT PRIMARY KEY, content TEXT, sha256 TEXT, tokens INTEGER NOT NULL, updated_at INTEGER NOT NULL);
    `);
  }

  /** Starts the thread with its first exchange, in one transaction. Refuses to start one twice. */
  async create(
    info: Pick<ThreadInfo, "threadId" | "team" | "creatorTool" | "initialContext" | "title">,
    turns: NewTurn[],
    limits: ThreadLimits,
    files: StoredFile[] = [],
  ): Promise<AppendResult> {
    if (this.threadRow()) throw new Error(`Thread ${info.threadId} exists already.`);
    const now = Date.now();
    this.sql.exec(
      "INSERT INTO thread VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
      info.threadId,
      info.team,
      info.creatorTool,
      JSON.stringify(info.initialContext),
      info.title,
      now,
      now,
      now + limits.ttlMs,
    );
    // Not awaited on purpose: the output gate holds the reply until the alarm write is durable.
    void this.ctx.storage.setAlarm(now + limits.ttlMs);
    return this.append(turns, limits, files);
  }

  /** The whole thread, or null when it never existed or has expired. */
  async read(): Promise<Thread | null> {
    const info = this.info();
    if (!info) return null;
    const turns = this.sql.exec<TurnRow>("SELECT * FROM turns ORDER BY idx").toArray().map(toTurn);
    const files = this.sql
      .exec<{ path: string; tokens: number; updated_at: number }>("SELECT path, tokens, updated_at FROM files")
      .toArray()
      .map((row) => ({ path: row.path, tokens: row.tokens, updatedAt: row.updated_at }));
    return { ...info, turns, files };
  }

  /** Some of the thread's files as last sent (only those asked for cross the wire). */
  async storedFiles(paths: string[]): Promise<StoredFile[]> {
    return paths.flatMap((path) =>
      this.sql
        .exec<{ content: string | null; sha256: string | null; tokens: number }>(
          "SELECT content, sha256, tokens FROM files WHERE path = ?",
          path,
        )
        .toArray()
        .map((row) => ({
          path,
          tokens: row.tokens,
          ...(row.content !== null ? { content: row.content } : {}),
          ...(row.sha256 !== null ? { sha256: row.sha256 } : {}),
        })),
    );
  }

  override async alarm(): Promise<void> {
    const row = this.threadRow();
    if (row && row.expires_at > Date.now()) {
      await this.ctx.storage.setAlarm(row.expires_at);
      return;
    }
    // Drops the tables too; this instance may still be asked about the thread, so recreate them empty.
    await this.ctx.storage.deleteAll();
    this.createSchema();
  }

  /**
   * Appends turns atomically (a user turn and its answer go in together or not at all) and
   * pushes the expiry back. Refuses when the thread is gone or the turns would pass the cap.
   */
  async appendTurns(turns: NewTurn[], limits: ThreadLimits, files: StoredFile[] = []): Promise<AppendResult> {
    return this.append(turns, limits, files);
  }


  private append(turns: NewTurn[], limits: ThreadLimits, files: StoredFile[]): AppendResult {
    const row = this.threadRow();
    const count = this.turnCount();
    if (!row) return { ok: false, reason: "not_found", turnCount: 0 };
    if (count + turns.length > limits.maxTurns) return { ok: false, reason: "turn_limit", turnCount: count };
    const now = Date.now();
    turns.forEach((turn, offset) => {
      this.sql.exec(
        "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        count + offset + 1,
        turn.role,
        turn.content,
        JSON.stringify(turn.files),
        JSON.stringify(turn.images),
        turn.tool,
        turn.provider ?? null,
        turn.model ?? null,
        turn.usage ? JSON.stringify(turn.usage) : null,
        turn.metadata ? JSON.stringify(turn.metadata) : null,
        now,
      );
    });
    for (const file of files) {
      this.sql.exec(
        "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
        file.path,
        file.content ?? null,
        file.sha256 ?? null,
        file.tokens,
        now,
      );
    }
    const expiresAt = now + limits.ttlMs;
    const reindex = now - row.indexed_at > INDEX_REFRESH_MS;
    this.sql.exec("UPDATE thread SET updated_at = ?, expires_at = ?, indexed_at = ?", now, expiresAt, reindex ? now : row.indexed_at);
    // The alarm may lag the expiry a little (it reschedules itself when it fires early), which
    // spares a storage write for exchanges that follow each other closely.
    if (expiresAt - row.expires_at > ALARM_SLACK_MS) {
      // Not awaited on purpose: the output gate holds the reply until the alarm write is durable.
      void this.ctx.storage.setAlarm(expiresAt);
    }
    const info = infoOf({ ...row, updated_at: now, expires_at: expiresAt }, count + turns.length);
    return { ok: true, turnCount: info.turnCount, info, reindex };
  }

  private threadRow(): ThreadRow | undefined {
    const row = this.sql.exec<ThreadRow>("SELECT * FROM thread").toArray()[0];
    // An expired thread whose alarm has not fired yet is already gone for its users.
    return row && row.expires_at > Date.now() ? row : undefined;
  }

  private turnCount(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM turns").one().n;
  }

  private info(): ThreadInfo | undefined {
    const row = this.threadRow();
    return row ? infoOf(row, this.turnCount()) : undefined;
  }
}

/** How far the expiry may run ahead of the alarm before the alarm is moved. */
const ALARM_SLACK_MS = 60_000;
/**
 * How stale the team's list entry of a thread may get (turn count, last update, expiry) before an
 * exchange refreshes it: a burst of exchanges then costs one write to the team's object, not one each.
 */
const INDEX_REFRESH_MS = 60_000;

function infoOf(row: ThreadRow, turnCount: number): ThreadInfo {
  return {
    threadId: row.thread_id,
    team: row.team,
    creatorTool: row.creator_tool,
    initialContext: JSON.parse(row.initial_context) as { [key: string]: Json },
    title: row.title,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    turnCount,
  };
}

function toTurn(row: TurnRow): Turn {
  return {
    index: row.idx,
    role: row.role === "assistant" ? "assistant" : "user",
    content: row.content,
    files: JSON.parse(row.files) as string[],
    images: JSON.parse(row.images) as string[],
    tool: row.tool,
    ...(row.provider ? { provider: row.provider } : {}),
    ...(row.model ? { model: row.model } : {}),
    ...(row.usage ? { usage: JSON.parse(row.usage) as Turn["usage"] } : {}),
    ...(row.metadata ? { metadata: JSON.parse(row.metadata) as { [key: string]: Json } } : {}),
    createdAt: row.created_at,
  };
}
