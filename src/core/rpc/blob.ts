import type { QuotaUsage } from "./team";

/**
 * The contract of a blob's Durable Object (one per team and content hash): what the worker asks
 * of it, and the shapes that cross. The object (src/durable/blob.ts) implements it. The bytes
 * live in R2 under a key unique to the upload that wrote them; the object holds the facts.
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
  createdAt: number;
  /** The R2 key of its bytes; "" while a blob of the release before R2 still has them in its object's rows. */
  key: string;
}

/** The facts of a blob that its upload measured while hashing it. */
export type BlobFacts = Omit<BlobInfo, "sha256" | "createdAt" | "key">;

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
  | { status: "started"; key: string }
  | { status: "complete"; info: BlobInfo }
  | { status: "quota_exceeded"; usage: QuotaUsage };

/** An upload in progress, as its parts need to know it. */
export interface UploadState {
  /** The declared size, or the most a stream of unknown length may hold. */
  sizeLimit: number;
  sealed: boolean;
  /** Where its bytes go in R2, and the R2 multipart upload that gathers its parts ("" before one is made). */
  key: string;
  multipartId: string;
}

export type PartResult = "stored" | "unknown_upload" | "sealed" | "beyond_size";

/** An R2 multipart part as completing needs it. */
export interface UploadedPart {
  partNumber: number;
  etag: string;
}

export type SealResult =
  | { status: "sealed"; parts: UploadedPart[]; mediaType: string; key: string; multipartId: string }
  | { status: "incomplete"; storedBytes: number; size: number }
  | { status: "unknown_upload" };

export type CommitResult =
  | { status: "committed"; info: BlobInfo }
  | { status: "unknown_upload" }
  | { status: "mismatch"; size: number; sizeLimit: number };

/** Rows of the release before R2 held a blob as chunks of this size; they are read once, when the blob moves to R2. */
export const CHUNK_BYTES = 1 << 20;

/** The KV cache of blob facts (src/files/blob-store.ts), named here so an expiring blob can drop its entry. */
export const BLOB_FACTS_CACHE = "blob-facts:v2";

/** The cache key of a team's blob facts under BLOB_FACTS_CACHE. */
export function blobFactsKey(team: string, sha256: string): string {
  return `${team}:${sha256}`;
}

/** R2's smallest multipart part (all but the last): the least BLOB_PART_MIB may be. */
export const R2_MIN_PART_MIB = 5;

export interface BlobObject extends Rpc.DurableObjectBranded {
  info(): Promise<BlobInfo | null>;
  begin(request: UploadRequest): Promise<BeginResult>;
  upload(uploadId: string): Promise<UploadState | null>;
  attachMultipart(uploadId: string, multipartId: string): Promise<boolean>;
  recordPart(uploadId: string, part: number, etag: string, size: number, partBytes: number): Promise<PartResult>;
  seal(uploadId: string, partBytes: number): Promise<SealResult>;
  commit(uploadId: string, facts: BlobFacts): Promise<CommitResult>;
  abort(uploadId: string): Promise<void>;
  moveToR2(): Promise<BlobInfo | null>;
}
