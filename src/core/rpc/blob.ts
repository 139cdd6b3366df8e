import type { QuotaUsage } from "./team";

/**
 * The contract of a blob's Durable Object (one per team and content hash): what the worker asks
 * of it, and the shapes that cross. The object (src/durable/blob.ts) implements it.
 */

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

/** The facts of a blob that its upload measured while hashing it. */
export type BlobFacts = Omit<BlobInfo, "sha256" | "createdAt" | "chunkCount">;

/** Starting an upload: who uploads what, how large it says it is, and the team's quota. */
export interface UploadRequest {
  team: string;
  sha256: string;
  uploadId: string;
  /** The declared size, which the upload must fill exactly; null for a stream of unknown length. */
  size: number | null;
  /** The most a stream of unknown length may hold (MAX_BLOB_BYTES). */
  maxBytes: number;
  mediaType: string;
  quotaBytes: number;
}

export type BeginResult =
  | { status: "started" }
  | { status: "complete"; info: BlobInfo }
  | { status: "quota_exceeded"; usage: QuotaUsage };

/** An upload in progress, as its parts need to know it. */
export interface UploadState {
  /** The declared size, or the most a stream of unknown length may hold. */
  sizeLimit: number;
  sealed: boolean;
}

export type ChunkResult = "stored" | "unknown_upload" | "sealed" | "beyond_size";

export type SealResult =
  | { status: "sealed"; chunkCount: number; mediaType: string }
  | { status: "incomplete"; storedBytes: number; size: number }
  | { status: "unknown_upload" };

export type CommitResult =
  | { status: "committed"; info: BlobInfo }
  | { status: "unknown_upload" }
  | { status: "mismatch"; storedBytes: number; storedChunks: number };

/** Chunks are fixed-size rows: well under the 2 MB row limit, and a small, steady memory bound. */
export const CHUNK_BYTES = 1 << 20;

export interface BlobObject extends Rpc.DurableObjectBranded {
  info(): Promise<BlobInfo | null>;
  begin(request: UploadRequest): Promise<BeginResult>;
  upload(uploadId: string): Promise<UploadState | null>;
  putChunk(uploadId: string, index: number, data: ArrayBuffer): Promise<ChunkResult>;
  seal(uploadId: string): Promise<SealResult>;
  commit(uploadId: string, facts: BlobFacts, chunkCount: number): Promise<CommitResult>;
  abort(uploadId: string): Promise<void>;
  readChunk(index: number, uploadId?: string): Promise<ArrayBuffer | null>;
}
