import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";

/** What the server knows of a stored blob. */
export interface BlobInfo {
  sha256: string;
  size: number;
  lines: number;
  /** Characters / 4 for text; 0 for binary. */
  tokens: number;
  text: boolean;
  mediaType: string;
  chunkCount: number;
  createdAt: number;
}

interface MetaRow extends Record<string, SqlStorageValue> {
  sha256: string;
  state: string;
  upload_id: string;
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
 */
export class BlobDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.createSchema();
  }

  private createSchema(): void {
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS meta (
        sha256 TEXT NOT NULL, state TEXT NOT NULL, upload_id TEXT NOT NULL, size INTEGER NOT NULL,
        lines INTEGER NOT NULL, tokens INTEGER NOT NULL, is_text INTEGER NOT NULL, media_type TEXT NOT NULL,
        chunk_count INTEGER NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS chunks (idx INTEGER PRIMARY KEY, data BLOB NOT NULL);
    `);
  }

  /** The committed blob, or null while it is absent or still uploading. */
  async info(): Promise<BlobInfo | null> {
    const row = this.meta();
    if (!row || row.state !== "complete") return null;
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

  /**
   * Starts (or restarts) an upload. A new upload id discards the chunks of an unfinished one, so
   * a crashed client can simply try again. Returns false when the blob is already complete.
   */
  async begin(sha256: string, uploadId: string): Promise<boolean> {
    const row = this.meta();
    if (row?.state === "complete") return false;
    if (row?.upload_id !== uploadId) {
      this.sql.exec("DELETE FROM chunks");
      this.sql.exec("DELETE FROM meta");
      this.sql.exec(
        "INSERT INTO meta VALUES (?, 'uploading', ?, 0, 0, 0, 0, '', 0, ?)",
        sha256,
        uploadId,
        Date.now(),
      );
    }
    return true;
  }

  /** Stores one chunk of the upload `uploadId`; false when that upload is no longer current. */
  async putChunk(uploadId: string, index: number, data: ArrayBuffer): Promise<boolean> {
    const row = this.meta();
    if (!row || row.state !== "uploading" || row.upload_id !== uploadId) return false;
    this.sql.exec("INSERT OR REPLACE INTO chunks VALUES (?, ?)", index, data);
    return true;
  }

  async chunkIndexes(): Promise<number[]> {
    return this.sql.exec<{ idx: number }>("SELECT idx FROM chunks ORDER BY idx").toArray().map((r) => r.idx);
  }

  /** Makes the upload visible once the caller has verified its hash. */
  async commit(uploadId: string, facts: Omit<BlobInfo, "sha256" | "createdAt" | "chunkCount">): Promise<BlobInfo | null> {
    const row = this.meta();
    if (!row || row.state !== "uploading" || row.upload_id !== uploadId) return null;
    const chunkCount = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM chunks").one().n;
    this.sql.exec(
      "UPDATE meta SET state = 'complete', size = ?, lines = ?, tokens = ?, is_text = ?, media_type = ?, chunk_count = ?",
      facts.size,
      facts.lines,
      facts.tokens,
      facts.text ? 1 : 0,
      facts.mediaType,
      chunkCount,
    );
    return this.info();
  }

  /** Drops an upload whose hash did not match (or that failed): nothing of it stays. */
  async abort(uploadId: string): Promise<void> {
    const row = this.meta();
    if (row && row.state === "uploading" && row.upload_id === uploadId) {
      await this.ctx.storage.deleteAll();
      this.createSchema();
    }
  }

  /** One chunk of a complete blob, or of the current upload when `uploadId` names it. */
  async readChunk(index: number, uploadId?: string): Promise<ArrayBuffer | null> {
    const row = this.meta();
    if (!row || (row.state !== "complete" && row.upload_id !== uploadId)) return null;
    const chunk = this.sql.exec<{ data: ArrayBuffer }>("SELECT data FROM chunks WHERE idx = ?", index).toArray()[0];
    return chunk?.data ?? null;
  }

  private meta(): MetaRow | undefined {
    return this.sql.exec<MetaRow>("SELECT * FROM meta").toArray()[0];
  }
}
