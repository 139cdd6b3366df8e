import { DurableObject } from "cloudflare:workers";
import { configOf } from "../core/config";
import type { Env } from "../core/env";
import { migrate, type Schema } from "./schema";
import {
  BLOB_FACTS_CACHE,
  blobFactsKey,
  type BeginResult,
  type BlobFacts,
  type BlobInfo,
  type BlobObject,
  type CommitResult,
  type PartResult,
  type SealResult,
  type UploadRequest,
  type UploadState,
  type UploadedPart,
} from "../core/rpc/blob";

/** An upload untouched this long is abandoned: its bytes are deleted and its reservation released. */
export const STALE_UPLOAD_MS = 60 * 60 * 1000;

const DAY_MS = 24 * 60 * 60 * 1000;

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
    // Bytes in R2: the key of the upload's object, its multipart upload and parts, and when the
    // blob was last referenced (for its expiry). Version 1's chunk rows stay until the blob moves.
    [
      "ALTER TABLE meta ADD COLUMN r2_key TEXT NOT NULL DEFAULT ''",
      "ALTER TABLE meta ADD COLUMN multipart_id TEXT NOT NULL DEFAULT ''",
      "ALTER TABLE meta ADD COLUMN referenced_at INTEGER NOT NULL DEFAULT 0",
      "UPDATE meta SET referenced_at = touched_at",
      "CREATE TABLE IF NOT EXISTS parts (part INTEGER PRIMARY KEY, etag TEXT NOT NULL, size INTEGER NOT NULL)",
    ],
  ],
};

const META_COLUMNS =
  "team, sha256, state, upload_id, size_limit, exact_size, touched_at, size, lines, tokens, is_text, media_type, chunk_count, created_at, r2_key, multipart_id, referenced_at";

/**
 * `empty`: no upload (the row remembers whose object this is, for the alarm). `uploading`: bytes
 * are on their way to R2. `sealed`: every part has arrived and no part is accepted any more; the
 * hash is being checked. `complete`: committed, visible, immutable. `expired`: unreferenced past
 * BLOB_TTL_DAYS, its quota given back, its bytes being deleted.
 */
type State = "empty" | "uploading" | "sealed" | "complete" | "expired";

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
  r2_key: string;
  multipart_id: string;
  referenced_at: number;
}

/** Where an upload's bytes go in R2: unique to the upload, so no other upload of the same hash can overwrite or delete them. */
function uploadKey(team: string, sha256: string, uploadId: string): string {
  return `${encodeURIComponent(team)}/${sha256}/${uploadId}`;
}

/**
 * One uploaded file of one team, named "<team>:<sha256>": its facts, its upload in progress and
 * its expiry. The bytes are an R2 object under a key unique to the upload that wrote them (the
 * worker streams them there); only a committed blob (hash verified) is visible, and a failed or
 * superseded upload's object is deleted by the upload itself, or by this object when it replaces
 * or abandons that upload. A blob of the release before R2 keeps its bytes in chunk rows until
 * it is first read, when they move to R2 (moveToR2) and its expiry clock starts.
 *
 * Quota: an upload reserves its bytes in the team's object before any byte is stored; the
 * reservation is released when the upload fails or is abandoned (an alarm) and becomes stored
 * bytes when it commits; an expired blob gives its stored bytes back. The steps that talk to the
 * team's object hold this object's other events back until they are done, so an upload and its
 * reservation always change together.
 *
 * Expiry: a committed blob's alarm is set BLOB_TTL_DAYS after it was last referenced; when it
 * fires the team's object says whether a manifest names the blob or a thread used it since, and
 * the blob is deleted (R2 object, facts, cached facts) only when neither did.
 *
 * Lookups never create storage: the tables are created by the first upload, and an object without
 * them answers "absent". An object that has them is migrated when it wakes.
 */
export class BlobDO extends DurableObject<Env> implements BlobObject {
  private readonly sql: SqlStorage;
  private hasTables: boolean;
  /** The move of a blob of the release before R2 into R2, while it runs (moveToR2). */
  private moving: Promise<BlobInfo | null> | undefined;

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
   * length reserves as it grows). A new upload replaces an unfinished one (whose R2 bytes are
   * deleted), so a crashed client can simply try again; a refused one leaves it alone.
   */
  async begin(request: UploadRequest): Promise<BeginResult> {
    return this.serialized(async () => {
      const row = this.meta();
      if (row?.state === "complete") return { status: "complete", info: infoOf(row) };
      const now = Date.now();
      if (!row) {
        this.createTables();
        this.sql.exec(
          `INSERT INTO meta (id, ${META_COLUMNS}) VALUES (1, ?, ?, 'empty', '', 0, 0, ?, 0, 0, 0, 0, '', 0, ?, '', '', 0)`,
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
      if (row) await this.deleteBytes(row);
      const key = uploadKey(request.team, request.sha256, request.uploadId);
      this.sql.exec("DELETE FROM parts");
      this.sql.exec(
        "UPDATE meta SET state = 'uploading', upload_id = ?, size_limit = ?, exact_size = ?, media_type = ?, touched_at = ?, created_at = ?, r2_key = ?, multipart_id = ''",
        request.uploadId,
        request.size ?? request.maxBytes,
        request.size === null ? 0 : 1,
        request.mediaType,
        now,
        now,
        key,
      );
      return { status: "started", key };
    });
  }

  /** The upload `uploadId` while it accepts or checks parts; null when it is not the current one. */
  async upload(uploadId: string): Promise<UploadState | null> {
    const row = this.current(uploadId);
    return row ? { sizeLimit: row.size_limit, sealed: row.state === "sealed", key: row.r2_key, multipartId: row.multipart_id } : null;
  }

  /** Records the R2 multipart upload that gathers the parts of `uploadId` (so that abandoning it aborts it). */
  async attachMultipart(uploadId: string, multipartId: string): Promise<boolean> {
    if (!this.current(uploadId)) return false;
    this.sql.exec("UPDATE meta SET multipart_id = ?, touched_at = ?", multipartId, Date.now());
    return true;
  }

  /**
   * Records a part uploaded to R2, only until the upload is sealed and only at the size its
   * number must have: parts of `partBytes` each, the last one what is left of the declared size.
   */
  async recordPart(uploadId: string, part: number, etag: string, size: number, partBytes: number): Promise<PartResult> {
    const row = this.current(uploadId);
    if (!row) return "unknown_upload";
    if (row.state === "sealed") return "sealed";
    if (size !== expectedPartBytes(row.size_limit, part, partBytes)) return "beyond_size";
    this.sql.exec("INSERT OR REPLACE INTO parts (part, etag, size) VALUES (?, ?, ?)", part, etag, size);
    this.sql.exec("UPDATE meta SET touched_at = ?", Date.now());
    return "stored";
  }

  /**
   * Closes a multipart upload to further parts once all of them have arrived (every part from 1
   * to the last that the declared size takes); until then it stays open, so missing parts can
   * still be sent.
   */
  async seal(uploadId: string, partBytes: number): Promise<SealResult> {
    const row = this.current(uploadId);
    if (!row) return { status: "unknown_upload" };
    const partCount = Math.ceil(row.size_limit / partBytes);
    const parts = this.sql
      .exec<{ part: number; etag: string; size: number }>("SELECT part, etag, size FROM parts WHERE part <= ? ORDER BY part", partCount)
      .toArray();
    const storedBytes = parts.reduce((sum, part) => sum + part.size, 0);
    if (parts.length !== partCount || storedBytes !== row.size_limit) return { status: "incomplete", storedBytes, size: row.size_limit };
    this.sql.exec("UPDATE meta SET state = 'sealed', touched_at = ?", Date.now());
    const uploaded: UploadedPart[] = parts.map((part) => ({ partNumber: part.part, etag: part.etag }));
    return { status: "sealed", parts: uploaded, mediaType: row.media_type, key: row.r2_key, multipartId: row.multipart_id };
  }

  /**
   * Makes an upload visible once the caller has stored its bytes in R2 and verified their hash,
   * if the size it hashed is what the upload declared (or within its limit); its reservation
   * becomes stored bytes, and its expiry clock starts.
   */
  async commit(uploadId: string, facts: BlobFacts): Promise<CommitResult> {
    return this.serialized(async () => {
      const row = this.current(uploadId);
      if (!row) return { status: "unknown_upload" };
      if (facts.size > row.size_limit || (row.exact_size === 1 && facts.size !== row.size_limit)) {
        return { status: "mismatch", size: facts.size, sizeLimit: row.size_limit };
      }
      // The team counts the bytes first: a failure here leaves the upload to retry or to expire.
      await this.env.TEAMS.getByName(row.team).commitReservation(row.sha256, facts.size);
      const now = Date.now();
      this.sql.exec(
        "UPDATE meta SET state = 'complete', size = ?, lines = ?, tokens = ?, is_text = ?, media_type = ?, multipart_id = '', referenced_at = ?",
        facts.size,
        facts.lines,
        facts.tokens,
        facts.text ? 1 : 0,
        facts.mediaType,
        now,
      );
      this.sql.exec("DELETE FROM parts");
      await this.armExpiry(now);
      return { status: "committed", info: infoOf(this.meta() ?? row) };
    });
  }

  /** Drops an upload that failed or whose hash did not match: nothing of it stays, nor its reservation. */
  async abort(uploadId: string): Promise<void> {
    await this.serialized(async () => {
      const row = this.current(uploadId);
      if (row) await this.discard(row);
    });
  }

  /**
   * A blob of the release before R2 moves its chunk rows into an R2 object (streamed, a row at a
   * time) and drops them; its facts then name the key. A blob already in R2 is answered as it is.
   * Not held in blockConcurrencyWhile (a stream into R2 cannot flow there): reads that arrive
   * meanwhile wait for the same move.
   */
  async moveToR2(): Promise<BlobInfo | null> {
    this.moving ??= this.move().finally(() => (this.moving = undefined));
    return this.moving;
  }

  private async move(): Promise<BlobInfo | null> {
    const row = this.meta();
    if (row?.state !== "complete") return null;
    if (row.r2_key !== "") return infoOf(row);
    const key = uploadKey(row.team, row.sha256, row.upload_id);
    const options = { httpMetadata: { contentType: row.media_type } };
    if (row.size === 0) {
      await this.env.BLOB_BUCKET.put(key, new Uint8Array(0), options);
    } else {
      const { readable, writable } = new FixedLengthStream(row.size);
      const stored = this.env.BLOB_BUCKET.put(key, readable, options);
      const writer = writable.getWriter();
      for (let index = 0; index < row.chunk_count; index++) {
        const chunk = this.sql.exec<{ data: ArrayBuffer }>("SELECT data FROM chunks WHERE idx = ?", index).one();
        await writer.write(new Uint8Array(chunk.data));
      }
      await writer.close();
      await stored;
    }
    this.sql.exec("UPDATE meta SET r2_key = ?, chunk_count = 0", key);
    this.sql.exec("DELETE FROM chunks");
    // Committed before blobs expired, it had no expiry: its clock starts at this first read.
    await this.armExpiry(Date.now());
    return infoOf({ ...row, r2_key: key });
  }

  /**
   * An abandoned upload (untouched for STALE_UPLOAD_MS) is removed, or looked at again when it was
   * touched since; a committed blob past its expiry is removed unless the team references it.
   */
  override async alarm(): Promise<void> {
    await this.serialized(async () => {
      const row = this.meta();
      if (!row) return;
      if (row.state === "complete" || row.state === "expired") return this.expireIfUnreferenced(row);
      const staleAt = row.touched_at + STALE_UPLOAD_MS;
      if (row.state !== "empty" && staleAt > Date.now()) {
        await this.ctx.storage.setAlarm(staleAt);
        return;
      }
      await this.discard(row);
    });
  }

  private ttlMs(): number {
    return configOf(this.env).blobs.ttlDays * DAY_MS;
  }

  /** Sets the alarm for BLOB_TTL_DAYS after the blob was last referenced at `referencedAt`. */
  private async armExpiry(referencedAt: number): Promise<void> {
    this.sql.exec("UPDATE meta SET referenced_at = ?", referencedAt);
    await this.ctx.storage.setAlarm(referencedAt + this.ttlMs());
  }

  /**
   * The team gives the blob's stored bytes back only if no manifest names it and no thread used it
   * within the TTL; the state `expired` is written before the bytes are deleted, so an alarm run
   * again after a failure deletes them without giving the quota back twice.
   */
  private async expireIfUnreferenced(row: MetaRow): Promise<void> {
    if (row.state === "complete") {
      const ttl = this.ttlMs();
      const due = row.referenced_at + ttl;
      if (due > Date.now()) {
        await this.ctx.storage.setAlarm(due);
        return;
      }
      const outcome = await this.env.TEAMS.getByName(row.team).releaseUnreferencedBlob(row.sha256, row.size, Date.now() - ttl);
      if (outcome.status === "referenced") {
        await this.armExpiry(Math.max(outcome.referencedAt, row.referenced_at));
        return;
      }
      this.sql.exec("UPDATE meta SET state = 'expired'");
    }
    await this.env.CACHE.delete(`${BLOB_FACTS_CACHE}:${blobFactsKey(row.team, row.sha256)}`);
    await this.deleteBytes(row);
    await this.ctx.storage.deleteAll();
    this.hasTables = false;
  }

  /** Releases the reservation first: if that fails, the upload and its alarm stay for a retry. */
  private async discard(row: MetaRow): Promise<void> {
    await this.env.TEAMS.getByName(row.team).releaseReservation(row.sha256);
    await this.deleteBytes(row);
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.hasTables = false;
  }

  /** Deletes what an upload put in R2: its object and its unfinished multipart upload, if any. */
  private async deleteBytes(row: MetaRow): Promise<void> {
    if (row.multipart_id !== "") {
      await this.env.BLOB_BUCKET.resumeMultipartUpload(row.r2_key, row.multipart_id)
        .abort()
        .catch(() => undefined); // already completed or aborted
    }
    if (row.r2_key !== "") await this.env.BLOB_BUCKET.delete(row.r2_key);
  }

  /**
   * Runs work that awaits the team's object or R2 with this object's other events held back. A
   * throw inside blockConcurrencyWhile would reset the object, so failures are carried out as values.
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
}

/** The size part `part` must have: `partBytes`, the last one what is left of `size`; 0 past the end. */
export function expectedPartBytes(size: number, part: number, partBytes: number): number {
  return Math.max(0, Math.min(partBytes, size - (part - 1) * partBytes));
}

function infoOf(row: MetaRow): BlobInfo {
  return {
    sha256: row.sha256,
    size: row.size,
    lines: row.lines,
    tokens: row.tokens,
    text: row.is_text === 1,
    mediaType: row.media_type,
    createdAt: row.created_at,
    key: row.r2_key,
  };
}
