/**
 * The contract of a team's object (one per team: its thread list, workspace manifests, storage
 * quota and usage ledger): what the worker asks of it and the shapes that cross. The object
 * (src/durable/team.ts) implements it.
 */

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

/** A day's usage of one model: the sums of its calls. */
export interface UsageRow {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  calls: number;
  /** Estimated from the registry's list prices; null when any of the calls had no price. */
  costUsd: number | null;
}

/** What a batch of a team's calls tells its object. */
export interface TeamActivity {
  threads: ThreadSummary[];
  usage: UsageRow[];
  /** Blobs (SHA-256) whose bytes a call read for a model: a thread references them. */
  blobsUsed: string[];
}

/** Whether an expiring blob is still referenced (and until when), or its stored bytes were given back. */
export type BlobRelease = { status: "released" } | { status: "referenced"; referencedAt: number };

/** Days of usage kept; older rows are dropped as new ones arrive. */
export const USAGE_RETENTION_DAYS = 366;

/** The UTC day `offset` days from `day` (YYYY-MM-DD). */
export function shiftDay(day: string, offset: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + offset * 86_400_000).toISOString().slice(0, 10);
}

/** A file a client registered: its absolute path in a workspace, and its content hash. */
export interface ManifestEntry {
  path: string;
  sha256: string;
}

/**
 * What counts against a team's storage quota: bytes of committed blobs, bytes reserved by uploads
 * in progress, and the bytes of its workspace manifests' entries.
 */
export interface QuotaUsage {
  storedBytes: number;
  reservedBytes: number;
  manifestBytes: number;
}

export type Reservation = { status: "granted"; bytes: number } | { status: "quota_exceeded"; usage: QuotaUsage };

export type Registration = { status: "registered"; registered: number } | { status: "quota_exceeded"; usage: QuotaUsage };

/**
 * The most a team's manifests hold, counted as manifestEntryBytes: past it, the entries registered
 * longest ago make room. The manifests are the bridge's registrations, repeated on every call that
 * uses a file, so an entry let go is registered again when its file is used again.
 */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

export interface TeamObject extends Rpc.DurableObjectBranded {
  registerFiles(workspace: string, entries: ManifestEntry[], quotaBytes: number): Promise<Registration>;
  lookupFiles(workspace: string, paths: string[]): Promise<ManifestEntry[]>;
  filesUnder(workspace: string, directoryPrefix: string, limit: number): Promise<ManifestEntry[]>;
  quotaUsage(): Promise<QuotaUsage>;
  reserveUpload(sha256: string, uploadId: string, bytes: number, quotaBytes: number): Promise<Reservation>;
  growReservation(sha256: string, uploadId: string, atLeast: number, upTo: number, quotaBytes: number): Promise<Reservation | { status: "superseded" }>;
  releaseReservation(sha256: string): Promise<void>;
  commitReservation(sha256: string, bytes: number): Promise<void>;
  releaseUnreferencedBlob(sha256: string, bytes: number, referencedBefore: number): Promise<BlobRelease>;
  recordActivity(activity: TeamActivity): Promise<void>;
  listThreads(limit: number): Promise<ThreadSummary[]>;
  usageSince(firstDay: string): Promise<UsageRow[]>;
}
