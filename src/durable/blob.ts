import { DurableObject } from "cloudflare:workers";
import type { Env } from "../core/env";
import { migrate, type Schema } from "./schema";
import { CHUNK_BYTES, type BeginResult, type BlobFacts, type BlobInfo, type BlobObject, type ChunkResult, type CommitResult, type SealResult, type UploadRequest, type UploadState } from "../core/rpc/blob";

/** An upload untouched this long is abandoned: its chunks are deleted and its reservation released. */
export const STALE_UPLOAD_MS = 60 * 60 * 1000;

/** A blob's tables, by schema version (see schema.ts). */
export const BLOB_SCHEMA: Schema = {
  versionOneTable: "meta",
  migrations: [
    [
      `CREATE TABLE IF NOT EXISTS meta (
        id INTEGER PRIMARY KEY CHECK (id = 1), team TEXT NOT NULL, sha256 TEXT NOT NULL, state TEXT NOT NULL,
        upload_id TEXT NOT NULL, size_limit INTEGER NOT NULL, exact_size INTEGER NOT NULL, touched_at INTEGER NOT NULL,
        size INTEGER NOT NULL, lines INTEGER NOT NULL, tokens INTEGER NOT NULL, is_text INTEGER NOT NULL,
        media_type TEXT NOT NULL, chunk_count INTEGER NOT NULL, created_at INTEGER NOT NULL)`,
      "CREATE TABLE IF NOT EXISTS chunks (idx INTEGER PRIMARY KEY, data BLOB NOT NULL)",
    ],
  ],
};

const META_COLUMNS =
  "team, sha256, state, upload_id, size_limit, exact_size, touched_at, size, lines, tokens, is_text, media_type, chunk_count, created_at";

/**
 * `empty`: no upload (the row remembers whose object this is, for the alarm). `uploading`: chunks
 * arrive. `sealed`: every byte has arrived and no chunk is accepted any more; the hash is being
 * checked. `complete`: committed, visible, immutable.
 */
type State = "empty" | "uploading" | "sealed" | "complete";

interface MetaRow extends Record<string, SqlStorageValue> {
  team: string;
  sha256: string;
  state: State;
  upload_id: string;
  size_limit: number;
  exact_size: number;
  touched_at: number;
  size: number;
  lines: number;
  tokens: number;
  is_text: number;
  media_type: string;
  chunk_count: number;
  created_at: number;
}

/**
 * One uploaded file of one team, named "<team>:<sha256>", stored as fixed-size chunks in SQLite
 * rows. Why Durable Object rows and not R2: rows need no second storage product to set up per
 * team, work offline under `wrangler dev`, accept chunks in any order (multipart parts), and a
 * row's 2 MB limit is far above the 1 MiB chunk; a blob's object also serializes its own writes.
 * Only a committed blob (hash verified) is visible; an upload in progress or failed is not.
 *
 * Quota: an upload reserves its bytes in the team's object before any byte is stored; the
 * reservation is released when the upload fails or is abandoned (an alarm) and becomes stored
 * bytes when it commits. The steps that talk to the team's object hold this object's other events
 * back until they are done, so an upload and its reservation always change together.
 *
 * Lookups never create storage: the tables are created by the first upload, and an object without
 * them answers "absent". An object that has them is migrated when it wakes.
 */
export class BlobDO extends DurableObject<Env> implements BlobObject {
  private readonly sql: SqlStorage;
  private hasTables: boolean;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.hasTables = migrate(ctx.storage, BLOB_SCHEMA, false);
  }

  /** The committed blob, or null while it is absent or still uploading. */
  async info(): Promise<BlobInfo | null> {
    const row = this.meta();
    return row?.state === "complete" ? infoOf(row) : null;
  }

  /**
   * Starts an upload once the team's object has reserved its declared size (a stream of unknown
   * length reserves as it grows). A new upload replaces an unfinished one, so a crashed client can
   * simply try again; a refused one leaves it alone.
   */
  async begin(request: UploadRequest): Promise<BeginResult> {
    return this.serialized(async () => {
      const row = this.meta();
      if (row?.state === "complete") return { status: "complete", info: infoOf(row) };
      const now = Date.now();
      if (!row) {
        this.createTables();
        this.sql.exec(
          `INSERT INTO meta (id, ${META_COLUMNS}) VALUES (1, ?, ?, 'empty', '', 0, 0, ?, 0, 0, 0, 0, '', 0, ?)`,
          request.team,
          request.sha256,
          now,
          now,
        );
      }
      // Set before asking, so that a reservation whose answer is lost is still released.
      await this.ctx.storage.setAlarm(now + STALE_UPLOAD_MS);
      const team = this.env.TEAMS.getByName(request.team);
      const reservation = await team.reserveUpload(request.sha256, request.uploadId, request.size ?? 0, request.quotaBytes);
      if (reservation.status !== "granted") return reservation;
      this.sql.exec("DELETE FROM chunks");
      this.sql.exec(
        "UPDATE meta SET state = 'uploading', upload_id = ?, size_limit = ?, exact_size = ?, media_type = ?, touched_at = ?, created_at = ?",
        request.uploadId,
        request.size ?? request.maxBytes,
        request.size === null ? 0 : 1,
        request.mediaType,
        now,
        now,
      );
      return { status: "started" };
    });
  }

  /** The upload `uploadId` while it accepts or checks chunks; null when it is not the current one. */
  async upload(uploadId: string): Promise<UploadState | null> {
    const row = this.current(uploadId);
    return row ? { sizeLimit: row.size_limit, sealed: row.state === "sealed" } : null;
  }

  /** Stores one chunk of the upload `uploadId`, within its size and only until it is sealed. */
  async putChunk(uploadId: string, index: number, data: ArrayBuffer): Promise<ChunkResult> {
    const row = this.current(uploadId);
    if (!row) return "unknown_upload";
    if (row.state === "sealed") return "sealed";
    if (data.byteLength > CHUNK_BYTES || index * CHUNK_BYTES + data.byteLength > row.size_limit) return "beyond_size";
    this.sql.exec("INSERT OR REPLACE INTO chunks (idx, data) VALUES (?, ?)", index, data);
    this.sql.exec("UPDATE meta SET touched_at = ?", Date.now());
    return "stored";
  }

  /**
   * Closes the upload to further chunks once all of it has arrived (chunks 0..n-1 without a gap
   * and, when its size was declared, exactly that many bytes); until then it stays open, so
   * missing parts can still be sent.
   */
  async seal(uploadId: string): Promise<SealResult> {
    const row = this.current(uploadId);
    if (!row) return { status: "unknown_upload" };
    const stored = this.stored();
    const gapless = stored.chunks === 0 || stored.lastIndex === stored.chunks - 1;
    if (!gapless || (row.exact_size === 1 && stored.bytes !== row.size_limit)) {
      return { status: "incomplete", storedBytes: stored.bytes, size: row.size_limit };
    }
    this.sql.exec("UPDATE meta SET state = 'sealed', touched_at = ?", Date.now());
    return { status: "sealed", chunkCount: stored.chunks, mediaType: row.media_type };
  }

  /**
   * Makes a sealed upload visible once the caller has verified its hash, if the size and chunk
   * count it hashed are what this object holds; its reservation becomes stored bytes.
   */
  async commit(uploadId: string, facts: BlobFacts, chunkCount: number): Promise<CommitResult> {
    return this.serialized(async () => {
      const row = this.current(uploadId);
      if (row?.state !== "sealed") return { status: "unknown_upload" };
      const stored = this.stored();
      if (stored.chunks !== chunkCount || stored.bytes !== facts.size) {
        return { status: "mismatch", storedBytes: stored.bytes, storedChunks: stored.chunks };
      }
      // The team counts the bytes first: a failure here leaves the upload to retry or to expire.
      await this.env.TEAMS.getByName(row.team).commitReservation(row.sha256, stored.bytes);
      const info: BlobInfo = { ...facts, sha256: row.sha256, size: stored.bytes, chunkCount: stored.chunks, createdAt: row.created_at };
      this.sql.exec(
        "UPDATE meta SET state = 'complete', size = ?, lines = ?, tokens = ?, is_text = ?, media_type = ?, chunk_count = ?",
        info.size,
        info.lines,
        info.tokens,
        info.text ? 1 : 0,
        info.mediaType,
        info.chunkCount,
      );
      await this.ctx.storage.deleteAlarm();
      return { status: "committed", info };
    });
  }

  /** Drops an upload that failed or whose hash did not match: nothing of it stays, nor its reservation. */
  async abort(uploadId: string): Promise<void> {
    await this.serialized(async () => {
      const row = this.current(uploadId);
      if (row) await this.discard(row);
    });
  }

  /** One chunk of a complete blob, or of the sealed upload `uploadId` while its hash is checked. */
  async readChunk(index: number, uploadId?: string): Promise<ArrayBuffer | null> {
    const row = this.meta();
    const readable = row?.state === "complete" || (row?.state === "sealed" && row.upload_id === uploadId);
    if (!readable) return null;
    const chunk = this.sql.exec<{ data: ArrayBuffer }>("SELECT data FROM chunks WHERE idx = ?", index).toArray()[0];
    return chunk?.data ?? null;
  }

  /** Removes an abandoned upload (untouched for STALE_UPLOAD_MS), or looks again when it was touched since. */
  override async alarm(): Promise<void> {
    await this.serialized(async () => {
      const row = this.meta();
      if (!row || row.state === "complete") return;
      const staleAt = row.touched_at + STALE_UPLOAD_MS;
      if (row.state !== "empty" && staleAt > Date.now()) {
        await this.ctx.storage.setAlarm(staleAt);
        return;
      }
      await this.discard(row);
    });
  }

  /** Releases the reservation first: if that fails, the upload and its alarm stay for a retry. */
  private async discard(row: MetaRow): Promise<void> {
    await this.env.TEAMS.getByName(row.team).releaseReservation(row.sha256);
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.hasTables = false;
  }

  /**
   * Runs work that awaits the team's object with this object's other events held back. A throw
   * inside blockConcurrencyWhile would reset the object, so failures are carried out as values.
   */
  private async serialized<T>(work: () => Promise<T>): Promise<T> {
    const outcome = await this.ctx.blockConcurrencyWhile(async () => {
      try {
        return { ok: true as const, value: await work() };
      } catch (error) {
        return { ok: false as const, error };
      }
    });
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  private createTables(): void {
    this.hasTables ||= migrate(this.ctx.storage, BLOB_SCHEMA, true);
  }

  /** The object's row; undefined (and nothing created) for an object that was never uploaded to. */
  private meta(): MetaRow | undefined {
    return this.hasTables ? this.sql.exec<MetaRow>(`SELECT ${META_COLUMNS} FROM meta`).toArray()[0] : undefined;
  }

  /** The row while `uploadId` is the upload in progress (uploading or sealed). */
  private current(uploadId: string): MetaRow | undefined {
    const row = this.meta();
    return row && (row.state === "uploading" || row.state === "sealed") && row.upload_id === uploadId ? row : undefined;
  }

  private stored(): { chunks: number; bytes: number; lastIndex: number } {
    return this.sql
      .exec<{ chunks: number; bytes: number; lastIndex: number }>(
        "SELECT COUNT(*) AS chunks, COALESCE(SUM(length(data)), 0) AS bytes, COALESCE(MAX(idx), -1) AS lastIndex FROM chunks",
      )
      .one();
  }
}

function infoOf(row: MetaRow): BlobInfo {
  return {
    sha256: row.sha256,
    size: row.size,
    lines: row.lines,
    tokens: row.tokens,
    text: row.is_text === 1,
    mediaType: row.media_type,
    chunkCount: row.chunk_count,
    createdAt: row.created_at,
  };
}
