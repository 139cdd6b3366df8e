import { DurableObject } from "cloudflare:workers";
import { configOf } from "../core/config";
import type { Env } from "../core/env";
import { migrate, type Schema } from "./schema";
import { MAX_MANIFEST_BYTES, shiftDay, USAGE_RETENTION_DAYS, type ManifestEntry, type BlobRelease, type QuotaUsage, type Registration, type Reservation, type TeamActivity, type TeamObject, type ThreadSummary, type UsageRow } from "../core/rpc/team";

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

interface UsageSqlRow extends Record<string, SqlStorageValue> {
  day: string;
  provider: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  calls: number;
  cost_usd: number | null;
}

/** What an entry counts for: its workspace, path (UTF-8) and hash. */
const ENTRY_BYTES_SQL = "length(CAST(workspace AS BLOB)) + length(CAST(path AS BLOB)) + 64";
const encoder = new TextEncoder();

/** The team's tables, by schema version (see schema.ts). */
export const TEAM_SCHEMA: Schema = {
  // The last table of version 1: an older object without it is brought to version 1 by migration 1.
  versionOneTable: "manifest_usage",
  migrations: [
    [
      `CREATE TABLE IF NOT EXISTS threads (
      thread_id TEXT PRIMARY KEY, creator_tool TEXT NOT NULL, title TEXT NOT NULL, turn_count INTEGER NOT NULL,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS manifest (
        workspace TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL, updated_at INTEGER NOT NULL,
        PRIMARY KEY (workspace, path))`,
      "CREATE TABLE IF NOT EXISTS blob_usage (id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL)",
      `CREATE TABLE IF NOT EXISTS upload_reservations (
        sha256 TEXT PRIMARY KEY, upload_id TEXT NOT NULL, bytes INTEGER NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS model_usage (
        day TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL, calls INTEGER NOT NULL, cost_usd REAL,
        PRIMARY KEY (day, provider, model))`,
      "CREATE INDEX IF NOT EXISTS manifest_by_age ON manifest (updated_at)",
      "CREATE TABLE IF NOT EXISTS manifest_usage (id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL)",
      // Manifests registered before they were counted are counted once, here.
      `INSERT INTO manifest_usage (id, bytes) SELECT 1, COALESCE(SUM(${ENTRY_BYTES_SQL}), 0) FROM manifest`,
    ],
    // Blob expiry: when a thread last used each blob, and the manifest looked up by hash.
    [
      "CREATE TABLE IF NOT EXISTS blob_uses (sha256 TEXT PRIMARY KEY, used_at INTEGER NOT NULL)",
      "CREATE INDEX IF NOT EXISTS manifest_by_sha256 ON manifest (sha256)",
    ],
  ],
};

const SUMMARY_COLUMNS = "thread_id, creator_tool, title, turn_count, created_at, updated_at, expires_at";
const USAGE_COLUMNS = "day, provider, model, input_tokens, output_tokens, calls, cost_usd";

function manifestEntryBytes(workspace: string, path: string): number {
  return encoder.encode(workspace).length + encoder.encode(path).length + 64;
}

/**
 * The team's index, one object per team: which threads exist (so users find a thread again
 * without digging ids out of logs; threads report after each turn, off the hot path), the
 * workspace manifests that map the assistant's absolute paths to uploaded blobs, the bytes of
 * blobs stored and reserved and of its manifests, for the quota, and the usage ledger: tokens
 * per day and model.
 *
 * Reservations: one per blob being uploaded (a blob has one upload at a time), made before any
 * byte is stored and checked against the quota together with every other reservation, so uploads
 * running side by side cannot each take the whole room. The blob's object releases it or turns it
 * into stored bytes; only the upload that owns it may grow it.
 *
 * Usage lives here rather than in an object of its own: it is one small upsert per model call,
 * sent after the reply (never on the hot path), into a table of a few rows per day, and the
 * team's object is already the one place scoped to exactly one team, so a team can only ever
 * read its own rows, and a deploy needs no extra binding or migration.
 */
export class TeamDO extends DurableObject<Env> implements TeamObject {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // Every call needs the tables: they are created when the object first wakes.
    migrate(ctx.storage, TEAM_SCHEMA, true);
  }

  /**
   * Registers (or moves) paths of a workspace to content hashes, all or none: refused when the
   * team's manifests with the new entries would pass its storage quota (with its blobs). Past
   * MAX_MANIFEST_BYTES, the entries registered longest ago are let go to make room.
   */
  async registerFiles(workspace: string, entries: ManifestEntry[], quotaBytes: number): Promise<Registration> {
    const added = entries
      .filter((entry) => this.sql.exec("SELECT 1 FROM manifest WHERE workspace = ? AND path = ?", workspace, entry.path).toArray().length === 0)
      .reduce((sum, entry) => sum + manifestEntryBytes(workspace, entry.path), 0);
    const usage = this.usage();
    const manifestAfter = Math.min(MAX_MANIFEST_BYTES, usage.manifestBytes + added);
    if (added > 0 && usage.storedBytes + usage.reservedBytes + manifestAfter > quotaBytes) return { status: "quota_exceeded", usage };
    const now = Date.now();
    for (const entry of entries) {
      this.sql.exec("INSERT OR REPLACE INTO manifest (workspace, path, sha256, updated_at) VALUES (?, ?, ?, ?)", workspace, entry.path, entry.sha256, now);
    }
    const freed = this.evictOldEntries(usage.manifestBytes + added - MAX_MANIFEST_BYTES, now);
    this.sql.exec("UPDATE manifest_usage SET bytes = ?", usage.manifestBytes + added - freed);
    return { status: "registered", registered: entries.length };
  }

  /** Lets go of the entries registered longest ago (before `now`) until `bytes` are freed; the bytes freed. */
  private evictOldEntries(bytes: number, now: number): number {
    let freed = 0;
    while (freed < bytes) {
      const oldest = this.sql
        .exec<{ workspace: string; path: string; bytes: number }>(
          `SELECT workspace, path, ${ENTRY_BYTES_SQL} AS bytes FROM manifest WHERE updated_at < ? ORDER BY updated_at LIMIT 1000`,
          now,
        )
        .toArray();
      if (oldest.length === 0) break;
      for (const row of oldest) {
        if (freed >= bytes) break;
        this.sql.exec("DELETE FROM manifest WHERE workspace = ? AND path = ?", row.workspace, row.path);
        freed += row.bytes;
      }
    }
    return freed;
  }

  /** The registered hash of each path that has one. */
  async lookupFiles(workspace: string, paths: string[]): Promise<ManifestEntry[]> {
    return paths.flatMap((path) =>
      this.sql
        .exec<{ sha256: string }>("SELECT sha256 FROM manifest WHERE workspace = ? AND path = ?", workspace, path)
        .toArray()
        .map((row) => ({ path, sha256: row.sha256 })),
    );
  }

  /** Every registered file below a directory (the prefix ends with a separator), in path order. */
  async filesUnder(workspace: string, directoryPrefix: string, limit: number): Promise<ManifestEntry[]> {
    return this.sql
      .exec<ManifestEntry & Record<string, SqlStorageValue>>(
        "SELECT path, sha256 FROM manifest WHERE workspace = ? AND substr(path, 1, ?) = ? ORDER BY path LIMIT ?",
        workspace,
        directoryPrefix.length,
        directoryPrefix,
        limit,
      )
      .toArray()
      .map((row) => ({ path: row.path, sha256: row.sha256 }));
  }

  async quotaUsage(): Promise<QuotaUsage> {
    return this.usage();
  }

  /** Reserves `bytes` for an upload of `sha256`, replacing the reservation of an earlier upload of it. */
  async reserveUpload(sha256: string, uploadId: string, bytes: number, quotaBytes: number): Promise<Reservation> {
    const usage = this.usage(sha256);
    if (usage.storedBytes + usage.reservedBytes + usage.manifestBytes + bytes > quotaBytes) return { status: "quota_exceeded", usage: this.usage() };
    this.sql.exec("INSERT OR REPLACE INTO upload_reservations (sha256, upload_id, bytes) VALUES (?, ?, ?)", sha256, uploadId, bytes);
    return { status: "granted", bytes };
  }

  /**
   * Grows the reservation of a stream of unknown length to `upTo` bytes, or to what room is left
   * if that is at least `atLeast`. Only the upload that holds the reservation may grow it.
   */
  async growReservation(
    sha256: string,
    uploadId: string,
    atLeast: number,
    upTo: number,
    quotaBytes: number,
  ): Promise<Reservation | { status: "superseded" }> {
    const held = this.sql
      .exec<{ bytes: number }>("SELECT bytes FROM upload_reservations WHERE sha256 = ? AND upload_id = ?", sha256, uploadId)
      .toArray()[0];
    if (!held) return { status: "superseded" };
    const others = this.usage(sha256);
    const bytes = Math.max(held.bytes, Math.min(upTo, quotaBytes - others.storedBytes - others.reservedBytes - others.manifestBytes));
    if (bytes < atLeast) return { status: "quota_exceeded", usage: this.usage() };
    this.sql.exec("UPDATE upload_reservations SET bytes = ? WHERE sha256 = ?", bytes, sha256);
    return { status: "granted", bytes };
  }

  /** Drops the reservation of an upload of `sha256` that failed or was abandoned. */
  async releaseReservation(sha256: string): Promise<void> {
    this.sql.exec("DELETE FROM upload_reservations WHERE sha256 = ?", sha256);
  }

  /** The upload of `sha256` committed `bytes`: its reservation becomes stored bytes, in one step. */
  async commitReservation(sha256: string, bytes: number): Promise<void> {
    this.sql.exec("DELETE FROM upload_reservations WHERE sha256 = ?", sha256);
    this.sql.exec("INSERT INTO blob_usage (id, bytes) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET bytes = bytes + excluded.bytes", bytes);
  }

  /**
   * Called by an expiring blob: it is still referenced while a manifest names it, or until its
   * last use by a thread plus the thread's lifetime (CONVERSATION_TIMEOUT_HOURS past its last
   * turn); otherwise its stored bytes are given back, in the same step as the check.
   */
  async releaseUnreferencedBlob(sha256: string, bytes: number, referencedBefore: number): Promise<BlobRelease> {
    const now = Date.now();
    if (this.sql.exec("SELECT 1 FROM manifest WHERE sha256 = ? LIMIT 1", sha256).toArray().length > 0) return { status: "referenced", referencedAt: now };
    const used = this.sql.exec<{ used_at: number }>("SELECT used_at FROM blob_uses WHERE sha256 = ?", sha256).toArray()[0];
    const threadReference = used ? used.used_at + configOf(this.env).conversationTimeoutHours * 3_600_000 : 0;
    if (threadReference > referencedBefore) return { status: "referenced", referencedAt: threadReference };
    this.sql.exec("DELETE FROM blob_uses WHERE sha256 = ?", sha256);
    this.sql.exec("UPDATE blob_usage SET bytes = MAX(0, bytes - ?)", bytes);
    return { status: "released" };
  }

  /** What counts against the quota, leaving out the reservation of `exceptSha256` (about to be replaced). */
  private usage(exceptSha256 = ""): QuotaUsage {
    const storedBytes = this.sql.exec<{ bytes: number }>("SELECT bytes FROM blob_usage").toArray()[0]?.bytes ?? 0;
    const reservedBytes = this.sql
      .exec<{ bytes: number }>("SELECT COALESCE(SUM(bytes), 0) AS bytes FROM upload_reservations WHERE sha256 != ?", exceptSha256)
      .one().bytes;
    const manifestBytes = this.sql.exec<{ bytes: number }>("SELECT bytes FROM manifest_usage").one().bytes;
    return { storedBytes, reservedBytes, manifestBytes };
  }

  /**
   * What calls of this team did, in one write: its threads' list entries (new, or refreshed), the
   * usage of its model calls, summed per day and model, and the blobs they read (for
   * expiry). Isolates send it in batches.
   */
  async recordActivity(activity: TeamActivity): Promise<void> {
    for (const summary of activity.threads) {
      this.sql.exec(
        `INSERT OR REPLACE INTO threads (${SUMMARY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        summary.threadId,
        summary.creatorTool,
        summary.title,
        summary.turnCount,
        summary.createdAt,
        summary.updatedAt,
        summary.expiresAt,
      );
    }
    for (const sha256 of activity.blobsUsed) {
      this.sql.exec(
        "INSERT INTO blob_uses (sha256, used_at) VALUES (?, ?) ON CONFLICT (sha256) DO UPDATE SET used_at = excluded.used_at",
        sha256,
        Date.now(),
      );
    }
    for (const row of activity.usage) {
      this.sql.exec(
        `INSERT INTO model_usage (${USAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (day, provider, model) DO UPDATE SET input_tokens = input_tokens + excluded.input_tokens,
           output_tokens = output_tokens + excluded.output_tokens, calls = calls + excluded.calls, cost_usd = cost_usd + excluded.cost_usd`,
        row.day,
        row.provider,
        row.model,
        row.inputTokens,
        row.outputTokens,
        row.calls,
        row.costUsd,
      );
      this.sql.exec("DELETE FROM model_usage WHERE day <= ?", shiftDay(row.day, -USAGE_RETENTION_DAYS));
    }
  }

  /** Live threads, most recently updated first; expired ones are dropped as they are found. */
  async listThreads(limit: number): Promise<ThreadSummary[]> {
    this.sql.exec("DELETE FROM threads WHERE expires_at <= ?", Date.now());
    return this.sql
      .exec<SummaryRow>(`SELECT ${SUMMARY_COLUMNS} FROM threads ORDER BY updated_at DESC LIMIT ?`, Math.min(limit, MAX_LISTED))
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

  /**
   * Adds a call to its day's row. A cost stays null once any call of the row had no price (SQL's
   * NULL + x is NULL), so a partial sum is never shown as the whole.
   */
  /** Usage from `firstDay` (YYYY-MM-DD) on, newest day first, then by provider and model. */
  async usageSince(firstDay: string): Promise<UsageRow[]> {
    return this.sql
      .exec<UsageSqlRow>(`SELECT ${USAGE_COLUMNS} FROM model_usage WHERE day >= ? ORDER BY day DESC, provider, model`, firstDay)
      .toArray()
      .map((row) => ({
        day: row.day,
        provider: row.provider,
        model: row.model,
        inputTokens: row.input_tokens,
        outputTokens: row.output_tokens,
        calls: row.calls,
        costUsd: row.cost_usd,
      }));
  }
}
