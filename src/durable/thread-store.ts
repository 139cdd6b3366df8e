import type { AppendResult, FileMeta, Json, NewTurn, StoredFile, Thread, ThreadInfo, ThreadLimits, Turn, WorkflowWrite } from "../core/rpc/conversation";
import { migrate, type Schema, type SchemaStorage } from "./schema";

/** What a thread's storage needs from the Durable Object it lives in. */
export interface ThreadHost {
  storage: SchemaStorage;
  /** Sets the timer that calls `expire()`; a write the reply waits for (the object's output gate). */
  expireAt(at: number): void;
  deleteAll(): Promise<void>;
}

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
  /** Not a column: counted from the turns table with the row. */
  turn_count: number;
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
 * How much turn content (in characters) a thread may hold for its object to keep it in memory as
 * well: its continuations then read no rows. A longer thread is read from its rows each time, so
 * the objects sharing an isolate's 128 MB stay far from it.
 */
const HELD_CONTENT_CHARS = 256 * 1024;

/** A thread as its rows hold it, kept by its object between calls (its only writer). */
interface HeldThread {
  row: ThreadRow;
  turns: Turn[];
  files: FileMeta[];
  workflows: { [tool: string]: string };
  contentChars: number;
}

/** How far the expiry may run ahead of its timer before the timer is moved. */
const ALARM_SLACK_MS = 60_000;
/**
 * How stale the team's list entry of a thread may get (turn count, last update, expiry) before an
 * exchange refreshes it: a burst of exchanges then costs one write to the team's object, not one each.
 */
const INDEX_REFRESH_MS = 60_000;

/** A thread's tables, by schema version (see schema.ts). */
export const THREAD_SCHEMA: Schema = {
  versionOneTable: "thread",
  migrations: [
    [
      `CREATE TABLE IF NOT EXISTS thread (
        thread_id TEXT PRIMARY KEY, team TEXT NOT NULL, creator_tool TEXT NOT NULL,
        initial_context TEXT NOT NULL, title TEXT NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, indexed_at INTEGER NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS turns (
        idx INTEGER PRIMARY KEY, role TEXT NOT NULL, content TEXT NOT NULL,
        files TEXT NOT NULL, images TEXT NOT NULL, tool TEXT NOT NULL,
        provider TEXT, model TEXT, usage TEXT, metadata TEXT, created_at INTEGER NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS files (
        path TEXT PRIMARY KEY, content TEXT, sha256 TEXT, tokens INTEGER NOT NULL, updated_at INTEGER NOT NULL)`,
      "CREATE TABLE IF NOT EXISTS workflow (tool TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at INTEGER NOT NULL)",
    ],
  ],
};

const THREAD_COLUMNS = "thread_id, team, creator_tool, initial_context, title, created_at, updated_at, expires_at, indexed_at";
const TURN_COLUMNS = "idx, role, content, files, images, tool, provider, model, usage, metadata, created_at";
const TURN_PLACEHOLDERS = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/** A statement takes at most 100 bound parameters; a turn binds 11. */
const TURNS_PER_INSERT = 9;

/**
 * One conversation thread's storage, in its Durable Object's SQLite: the thread, its turns, the
 * files it has shown and its workflow tools' step state. Every method runs without awaiting
 * between reading and writing, so the object serializes concurrent continuations: no turn is
 * lost or duplicated. Tables are created by the first write only: looking up an unknown id
 * stores nothing. Built when the object wakes: a thread written by an earlier schema is migrated
 * then.
 */
export class ThreadStore {
  private readonly sql: SqlStorage;
  private hasTables: boolean;
  /** The thread as its rows hold it, while it is short enough: updated by every write, after the write. */
  private held: HeldThread | undefined;

  constructor(private readonly host: ThreadHost) {
    this.sql = host.storage.sql;
    this.hasTables = migrate(host.storage, THREAD_SCHEMA, false);
  }

  /** Starts the thread with its first turns. Refuses to start one twice. */
  create(
    info: Pick<ThreadInfo, "threadId" | "team" | "creatorTool" | "initialContext" | "title">,
    turns: NewTurn[],
    limits: ThreadLimits,
    files: StoredFile[] = [],
    workflow?: WorkflowWrite,
  ): AppendResult {
    this.createSchema();
    if (this.threadRow()) throw new Error(`Thread ${info.threadId} exists already.`);
    const now = Date.now();
    this.sql.exec(
      `INSERT INTO thread (${THREAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`,
      info.threadId,
      info.team,
      info.creatorTool,
      JSON.stringify(info.initialContext),
      info.title,
      now,
      now,
      now + limits.ttlMs,
    );
    this.host.expireAt(now + limits.ttlMs);
    this.held = {
      row: {
        thread_id: info.threadId,
        team: info.team,
        creator_tool: info.creatorTool,
        initial_context: JSON.stringify(info.initialContext),
        title: info.title,
        created_at: now,
        updated_at: now,
        expires_at: now + limits.ttlMs,
        indexed_at: 0,
        turn_count: 0,
      },
      turns: [],
      files: [],
      workflows: {},
      contentChars: 0,
    };
    return this.append(turns, limits, files, workflow);
  }

  /** The whole thread, or null when it never existed or has expired. */
  read(): Thread | null {
    const thread = this.heldThread() ?? this.loadThread();
    if (!thread) return null;
    return { ...infoOf(thread.row), turns: thread.turns, files: thread.files, workflows: thread.workflows };
  }

  /** The thread from its rows, kept in memory when it is short enough. */
  private loadThread(): HeldThread | undefined {
    const row = this.threadRow();
    if (!row) return undefined;
    const turns = this.sql.exec<TurnRow>(`SELECT ${TURN_COLUMNS} FROM turns ORDER BY idx`).toArray().map(toTurn);
    const files = this.sql
      .exec<{ path: string; tokens: number; updated_at: number }>("SELECT path, tokens, updated_at FROM files")
      .toArray()
      .map((file) => ({ path: file.path, tokens: file.tokens, updatedAt: file.updated_at }));
    const workflows = Object.fromEntries(
      this.sql
        .exec<{ tool: string; state: string }>("SELECT tool, state FROM workflow")
        .toArray()
        .map((workflow) => [workflow.tool, workflow.state]),
    );
    const thread = { row, turns, files, workflows, contentChars: turns.reduce((sum, turn) => sum + turn.content.length, 0) };
    if (thread.contentChars <= HELD_CONTENT_CHARS) this.held = thread;
    return thread;
  }

  /** The thread kept in memory, unless it has expired (then it is gone for its users, as from its rows). */
  private heldThread(): HeldThread | undefined {
    return this.held && this.held.row.expires_at > Date.now() ? this.held : undefined;
  }

  /** Some of the thread's files as last shown (only those asked for cross the wire). */
  storedFiles(paths: string[]): StoredFile[] {
    if (!this.hasTables) return [];
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

  /**
   * Appends turns atomically (a request and its answer go in together or not at all), with the
   * step state of a workflow tool, and pushes the expiry back. Refuses when the thread is gone
   * or the turns would pass the cap.
   */
  appendTurns(turns: NewTurn[], limits: ThreadLimits, files: StoredFile[] = [], workflow?: WorkflowWrite): AppendResult {
    if (!this.hasTables) return { ok: false, reason: "not_found", turnCount: 0 };
    return this.append(turns, limits, files, workflow);
  }


  /**
   * When the expiry timer fires: the thread is dropped when its time has come; otherwise (it was
   * extended since) the time it now expires at is returned, for the timer to be set again.
   */
  async expire(): Promise<number | undefined> {
    const row = this.threadRow();
    if (row && row.expires_at > Date.now()) return row.expires_at;
    await this.clear();
    return undefined;
  }

  private async clear(): Promise<void> {
    this.held = undefined;
    // Drops the tables too; this instance may be asked about the thread again, and finds none.
    await this.host.deleteAll();
    this.hasTables = false;
  }

  private append(turns: NewTurn[], limits: ThreadLimits, files: StoredFile[], workflow: WorkflowWrite | undefined): AppendResult {
    const held = this.heldThread();
    const row = held?.row ?? this.threadRow();
    if (!row) return { ok: false, reason: "not_found", turnCount: 0 };
    const count = row.turn_count;
    if (count + turns.length > limits.maxTurns) return { ok: false, reason: "turn_limit", turnCount: count };
    const now = Date.now();
    const turnRows = turns.map((turn, offset): TurnRow => ({
      idx: count + offset + 1,
      role: turn.role,
      content: turn.content,
      files: JSON.stringify(turn.files),
      images: JSON.stringify(turn.images),
      tool: turn.tool,
      provider: turn.provider ?? null,
      model: turn.model ?? null,
      usage: turn.usage ? JSON.stringify(turn.usage) : null,
      metadata: turn.metadata ? JSON.stringify(turn.metadata) : null,
      created_at: now,
    }));
    // As few statements as the bound-parameter limit allows (a request and its answer in one): each statement costs.
    for (let first = 0; first < turnRows.length; first += TURNS_PER_INSERT) {
      const batch = turnRows.slice(first, first + TURNS_PER_INSERT);
      this.sql.exec(
        `INSERT INTO turns (${TURN_COLUMNS}) VALUES ${batch.map(() => TURN_PLACEHOLDERS).join(", ")}`,
        ...batch.flatMap((turn) => [
          turn.idx,
          turn.role,
          turn.content,
          turn.files,
          turn.images,
          turn.tool,
          turn.provider,
          turn.model,
          turn.usage,
          turn.metadata,
          turn.created_at,
        ]),
      );
    }
    for (const file of files) {
      this.sql.exec(
        "INSERT OR REPLACE INTO files (path, content, sha256, tokens, updated_at) VALUES (?, ?, ?, ?, ?)",
        file.path,
        file.content ?? null,
        file.sha256 ?? null,
        file.tokens,
        now,
      );
    }
    if (workflow) this.sql.exec("INSERT OR REPLACE INTO workflow (tool, state, updated_at) VALUES (?, ?, ?)", workflow.tool, workflow.state, now);
    const expiresAt = now + limits.ttlMs;
    const reindex = turns.length > 0 && now - row.indexed_at > INDEX_REFRESH_MS;
    this.sql.exec("UPDATE thread SET updated_at = ?, expires_at = ?, indexed_at = ?", now, expiresAt, reindex ? now : row.indexed_at);
    // The timer may lag the expiry a little (it is set again when it fires early), which spares a
    // storage write for exchanges that follow each other closely.
    if (expiresAt - row.expires_at > ALARM_SLACK_MS) {
      this.host.expireAt(expiresAt);
    }
    const updated: ThreadRow = { ...row, updated_at: now, expires_at: expiresAt, indexed_at: reindex ? now : row.indexed_at, turn_count: count + turns.length };
    if (held) this.holdAppended(held, updated, turnRows, files, workflow, now);
    const info = infoOf(updated);
    return { ok: true, turnCount: info.turnCount, info, reindex };
  }

  /** What an append wrote, laid over the thread held in memory, in the order its rows now read back. */
  private holdAppended(held: HeldThread, row: ThreadRow, turnRows: TurnRow[], files: StoredFile[], workflow: WorkflowWrite | undefined, now: number): void {
    const contentChars = held.contentChars + turnRows.reduce((sum, turn) => sum + turn.content.length, 0);
    if (contentChars > HELD_CONTENT_CHARS) {
      this.held = undefined;
      return;
    }
    // A replaced file or step state reads back last, as a replaced row does.
    const replaced = new Set(files.map((file) => file.path));
    const workflows = { ...held.workflows };
    if (workflow) {
      delete workflows[workflow.tool];
      workflows[workflow.tool] = workflow.state;
    }
    this.held = {
      row,
      turns: [...held.turns, ...turnRows.map(toTurn)],
      files: [...held.files.filter((file) => !replaced.has(file.path)), ...files.map((file) => ({ path: file.path, tokens: file.tokens, updatedAt: now }))],
      workflows,
      contentChars,
    };
  }

  private createSchema(): void {
    this.hasTables ||= migrate(this.host.storage, THREAD_SCHEMA, true);
  }

  /** The thread's row with its number of turns, in one statement. */
  private threadRow(): ThreadRow | undefined {
    if (!this.hasTables) return undefined;
    const row = this.sql.exec<ThreadRow>(`SELECT ${THREAD_COLUMNS}, (SELECT COUNT(*) FROM turns) AS turn_count FROM thread`).toArray()[0];
    // An expired thread whose timer has not fired yet is already gone for its users.
    return row && row.expires_at > Date.now() ? row : undefined;
  }
}

function infoOf(row: ThreadRow): ThreadInfo {
  return {
    threadId: row.thread_id,
    team: row.team,
    creatorTool: row.creator_tool,
    initialContext: JSON.parse(row.initial_context) as { [key: string]: Json },
    title: row.title,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    turnCount: row.turn_count,
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
