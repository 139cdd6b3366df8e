/**
 * Makes local files available to the server: hash each file (streaming), ask the server which
 * contents it lacks, upload only those (streamed from disk; multipart above 64 MiB), then
 * register every path -> hash in the workspace manifest, which is how the server resolves the
 * absolute paths in tool arguments.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { basename, extname } from "node:path";
import { hasCodeExtension } from "../core/wire-contract.ts";
import { localFiles, type LocalFile } from "./paths.ts";
import { UploadProgress } from "./progress.ts";
import { ServerError, restUrl, serverError, serverFetch, type RemoteOptions } from "./remote.ts";
import type { UploadScope } from "./upload-scope.ts";

/** Above this a file goes through a multipart session (the server's single-PUT limit). */
export const MULTIPART_THRESHOLD = 64 * 1024 * 1024;

/** Requests in flight at once: enough to hide latency, few enough not to flood a small server. */
const CONCURRENCY = 4;

/** Manifest entries per request (the server takes at most 20 000; registering is an upsert). */
const MANIFEST_BATCH = 5_000;

/** A file's hash, kept while its size and modification time stay the same. */
export class HashCache {
  private readonly entries = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

  get(file: LocalFile): string | undefined {
    const entry = this.entries.get(file.path);
    return entry && entry.size === file.size && entry.mtimeMs === file.mtimeMs ? entry.sha256 : undefined;
  }

  set(file: LocalFile, sha256: string): void {
    this.entries.set(file.path, { size: file.size, mtimeMs: file.mtimeMs, sha256 });
  }

  delete(path: string): void {
    this.entries.delete(path);
  }
}

export async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, ...(signal ? { signal } : {}) })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

const MEDIA_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".bmp": "image/bmp",
  ".svg": "image/svg+xml",
  ".heic": "image/heic",
  ".heif": "image/heif",
  ".pdf": "application/pdf",
};

/**
 * The media type sent with an upload: by extension for images and code, otherwise by a look at
 * the first 8 KB (no NUL byte and valid UTF-8 means text), so a `Makefile` or `Dockerfile`
 * passed by name is still read as text.
 */
export async function mediaTypeOf(path: string): Promise<string> {
  const extension = extname(path).toLowerCase();
  const known = MEDIA_TYPES[extension];
  if (known) return known;
  if (hasCodeExtension(basename(path))) return "text/plain";
  const handle = await open(path, "r");
  try {
    const sample = new Uint8Array(8192);
    const { bytesRead } = await handle.read(sample, 0, sample.length, 0);
    const head = sample.subarray(0, bytesRead);
    if (head.includes(0)) return "application/octet-stream";
    // `stream: true` so a character cut at the end of the sample is not taken for bad UTF-8.
    new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(head, { stream: true });
    return "text/plain";
  } catch {
    return "application/octet-stream";
  } finally {
    await handle.close();
  }
}

/**
 * Runs `task` over `items`, at most `limit` at a time, in order of start. After a failure no
 * new item starts, and the first error is thrown once the running ones have settled.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}

/** The file changed between hashing and uploading: hash it again and retry. */
export class HashMismatchError extends Error {
  override name = "HashMismatchError";
  readonly path: string;

  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

/**
 * A byte range of a file as a request body, read a piece at a time as the connection takes it
 * (pull-based, so memory stays at one read buffer whatever the file's size).
 */
function fileBody(path: string, start: number, length: number, onBytes: (bytes: number) => void): ReadableStream<Uint8Array> {
  const chunks = createReadStream(path, { start, end: start + length - 1, highWaterMark: 1 << 20 })[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = (await chunks.next()) as IteratorResult<Buffer>;
        if (done) {
          controller.close();
          return;
        }
        onBytes(value.byteLength);
        controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      },
      async cancel() {
        await chunks.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

interface Upload {
  sha256: string;
  size: number;
  /** One of the files with this content: the one streamed. */
  path: string;
  mediaType: string;
}

interface UploadContext {
  remote: RemoteOptions;
  signal: AbortSignal | undefined;
  progress: UploadProgress;
}

async function blobPresent(remote: RemoteOptions, sha256: string, signal?: AbortSignal): Promise<boolean> {
  const response = await serverFetch(remote, `v1/blobs/${sha256}`, { method: "HEAD", ...(signal ? { signal } : {}) });
  await response.body?.cancel();
  if (response.status === 200) return true;
  if (response.status === 404) return false;
  throw await serverError(response, "Checking which files the server has");
}

/** The server's batch check: which of these contents it lacks (at most 1,000 hashes a request). */
const PRESENCE_BATCH = 1_000;

async function missingBlobs(remote: RemoteOptions, hashes: string[], signal?: AbortSignal): Promise<Set<string>> {
  const missing = new Set<string>();
  for (let i = 0; i < hashes.length; i += PRESENCE_BATCH) {
    const response = await serverFetch(remote, "v1/blobs/missing", {
      method: "POST",
      ...jsonRequest({ sha256: hashes.slice(i, i + PRESENCE_BATCH) }),
      ...(signal ? { signal } : {}),
    });
    if (!response.ok) throw await serverError(response, "Checking which files the server has");
    const body = (await response.json()) as { missing?: unknown };
    if (!Array.isArray(body.missing)) throw new ServerError(response.status, "bad_response", "The server's answer about missing files is malformed.");
    for (const sha256 of body.missing) if (typeof sha256 === "string") missing.add(sha256);
  }
  return missing;
}

async function failure(response: Response, blob: Upload): Promise<Error> {
  const error = await serverError(response, `Uploading ${blob.path}`);
  return error.code === "hash_mismatch" ? new HashMismatchError(blob.path, error.message) : error;
}

/** One streamed PUT (Content-Length given: the server checks size limits before reading). */
async function putBlob(context: UploadContext, blob: Upload): Promise<void> {
  const response = await serverFetch(context.remote, `v1/blobs/${blob.sha256}`, {
    method: "PUT",
    headers: { "content-type": blob.mediaType, "content-length": String(blob.size) },
    body: () => fileBody(blob.path, 0, blob.size, (bytes) => context.progress.add(bytes)),
    ...(context.signal ? { signal: context.signal } : {}),
  });
  if (response.status !== 200 && response.status !== 201) throw await failure(response, blob);
  await response.body?.cancel();
}

function jsonRequest(body: unknown): { headers: Record<string, string>; body: () => string } {
  return { headers: { "content-type": "application/json" }, body: () => JSON.stringify(body) };
}

/**
 * A multipart session: begin, parts of the server's `partSize` (a few at a time), complete.
 * Also used for empty files, which a PUT cannot carry (no body): a session with no parts.
 */
async function putBlobInParts(context: UploadContext, blob: Upload): Promise<void> {
  const base = `v1/blobs/${blob.sha256}/uploads`;
  const signal = context.signal ? { signal: context.signal } : {};
  const begin = await serverFetch(context.remote, base, { method: "POST", ...jsonRequest({ size: blob.size, mediaType: blob.mediaType }), ...signal });
  if (begin.status === 200) {
    // Someone uploaded the same content meanwhile.
    await begin.body?.cancel();
    return;
  }
  if (begin.status !== 201) throw await failure(begin, blob);
  const session = (await begin.json()) as { uploadId?: unknown; partSize?: unknown };
  const { uploadId, partSize } = session;
  if (typeof uploadId !== "string" || typeof partSize !== "number" || !Number.isInteger(partSize) || partSize <= 0) {
    throw new ServerError(begin.status, "bad_session", `Uploading ${blob.path}: the server's upload session is malformed: ${JSON.stringify(session)}`);
  }
  const parts = Array.from({ length: Math.ceil(blob.size / partSize) }, (_, i) => i + 1);
  await mapLimit(parts, CONCURRENCY, async (part) => {
    const start = (part - 1) * partSize;
    const length = Math.min(partSize, blob.size - start);
    const response = await serverFetch(context.remote, `${base}/${encodeURIComponent(uploadId)}/parts/${part}`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream", "content-length": String(length) },
      body: () => fileBody(blob.path, start, length, (bytes) => context.progress.add(bytes)),
      ...signal,
    });
    if (response.status !== 200 && response.status !== 201) throw await failure(response, blob);
    await response.body?.cancel();
  });
  const complete = await serverFetch(context.remote, `${base}/${encodeURIComponent(uploadId)}/complete`, {
    method: "POST",
    ...jsonRequest({ mediaType: blob.mediaType }),
    ...signal,
  });
  if (complete.status !== 200 && complete.status !== 201) throw await failure(complete, blob);
  await complete.body?.cancel();
}

/**
 * Uploads of the same content from concurrent tool calls of one bridge share one upload: two
 * uploads of one blob at once make the server drop the first ("superseded").
 */
const uploadsInFlight = new Map<string, Promise<void>>();

function uploadOnce(context: UploadContext, blob: Omit<Upload, "mediaType">): Promise<void> {
  const key = `${restUrl(context.remote, "").href} ${blob.sha256}`;
  let pending = uploadsInFlight.get(key);
  if (!pending) {
    pending = upload(context, blob).finally(() => uploadsInFlight.delete(key));
    uploadsInFlight.set(key, pending);
  }
  return pending;
}

async function upload(context: UploadContext, file: Omit<Upload, "mediaType">): Promise<void> {
  const blob: Upload = { ...file, mediaType: await mediaTypeOf(file.path) };
  try {
    if (blob.size > MULTIPART_THRESHOLD || blob.size === 0) await putBlobInParts(context, blob);
    else await putBlob(context, blob);
  } catch (error) {
    // Another client (another bridge, a push) uploaded the same content at the same moment and
    // the server kept theirs: what matters is that the server has it.
    if (error instanceof ServerError && (error.status === 409 || error.status >= 500)) {
      if (await blobPresent(context.remote, blob.sha256, context.signal)) return;
    }
    throw error;
  }
}

async function registerManifest(remote: RemoteOptions, entries: Array<[string, string]>, signal?: AbortSignal): Promise<void> {
  for (let i = 0; i < entries.length; i += MANIFEST_BATCH) {
    const files = Object.fromEntries(entries.slice(i, i + MANIFEST_BATCH));
    const response = await serverFetch(remote, `v1/workspaces/${encodeURIComponent(remote.workspace)}/manifest`, {
      method: "PUT",
      ...jsonRequest({ files }),
      ...(signal ? { signal } : {}),
    });
    if (!response.ok) throw await serverError(response, `Registering files in workspace '${remote.workspace}'`);
    await response.body?.cancel();
  }
}

export interface SyncSummary {
  /** Local files registered (named files plus the files found under named directories). */
  files: number;
  /** Files whose content was uploaded now, and the bytes sent (each distinct content once). */
  uploadedFiles: number;
  uploadedBytes: number;
  /** Files whose content the server already had, and the bytes that did not need sending. */
  presentFiles: number;
  skippedBytes: number;
  seconds: number;
  warnings: string[];
}

export interface SyncOptions {
  remote: RemoteOptions;
  /** What may be uploaded: a path outside it fails the sync before anything is read. */
  scope: UploadScope;
  cache: HashCache;
  signal?: AbortSignal;
  /** MCP progress while uploading (the bar itself goes to stderr). */
  onProgress?: (message: string) => void;
  stderr?: NodeJS.WriteStream;
}

/**
 * Uploads what the server lacks of the files behind `candidates` and registers them all.
 * When a file changes while it is being uploaded (the server's hash check fails), it is hashed
 * again and the whole sync runs once more.
 */
export async function syncPaths(candidates: Array<{ path: string; allowDirectory: boolean }>, options: SyncOptions): Promise<SyncSummary> {
  const started = performance.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const summary = await syncOnce(candidates, options);
      return { ...summary, seconds: (performance.now() - started) / 1000 };
    } catch (error) {
      if (!(error instanceof HashMismatchError) || attempt >= 1) throw error;
      options.cache.delete(error.path);
    }
  }
}

async function syncOnce(candidates: Array<{ path: string; allowDirectory: boolean }>, options: SyncOptions): Promise<Omit<SyncSummary, "seconds">> {
  const { remote, cache, signal } = options;
  const { files, warnings } = await localFiles(candidates, options.scope);
  if (files.length === 0) return { files: 0, uploadedFiles: 0, uploadedBytes: 0, presentFiles: 0, skippedBytes: 0, warnings };

  const hashes = await mapLimit(files, CONCURRENCY, async (file) => {
    const cached = cache.get(file);
    if (cached) return cached;
    const sha256 = await sha256File(file.path, signal);
    cache.set(file, sha256);
    return sha256;
  });

  // Distinct contents: a file copied under two names is asked about and sent once.
  const blobs = new Map<string, { blob: Omit<Upload, "mediaType">; files: number }>();
  files.forEach((file, i) => {
    const sha256 = hashes[i] ?? "";
    const known = blobs.get(sha256);
    if (known) known.files++;
    else blobs.set(sha256, { blob: { sha256, size: file.size, path: file.path }, files: 1 });
  });
  const distinct = [...blobs.values()];
  const lacking = await missingBlobs(remote, distinct.map((entry) => entry.blob.sha256), signal);
  const missing = distinct.filter((entry) => lacking.has(entry.blob.sha256));
  const presentEntries = distinct.filter((entry) => !lacking.has(entry.blob.sha256));

  const totalBytes = missing.reduce((sum, entry) => sum + entry.blob.size, 0);
  const progress = new UploadProgress(totalBytes, missing.length, {
    ...(options.stderr ? { stream: options.stderr } : {}),
    ...(options.onProgress ? { onUpdate: options.onProgress } : {}),
  });
  const context: UploadContext = { remote, signal, progress };
  try {
    await mapLimit(missing, CONCURRENCY, async (entry) => {
      await uploadOnce(context, entry.blob);
      progress.fileDone();
    });
  } finally {
    progress.finish();
  }

  await registerManifest(remote, files.map((file, i) => [file.path, hashes[i] ?? ""]), signal);
  return {
    files: files.length,
    uploadedFiles: missing.reduce((sum, entry) => sum + entry.files, 0),
    uploadedBytes: totalBytes,
    presentFiles: presentEntries.reduce((sum, entry) => sum + entry.files, 0),
    skippedBytes: presentEntries.reduce((sum, entry) => sum + entry.blob.size, 0),
    warnings,
  };
}

/**
 * One line per sync, stable so scripts and tests can read it:
 * `zen-bridge: uploaded 1234 bytes (2 files uploaded, 1 file present, 5678 bytes skipped, 3 registered, 0.12 s)`.
 */
export function summaryLine(summary: SyncSummary): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return (
    `zen-bridge: uploaded ${summary.uploadedBytes} bytes (${plural(summary.uploadedFiles, "file")} uploaded, ` +
    `${plural(summary.presentFiles, "file")} present, ${summary.skippedBytes} bytes skipped, ${summary.files} registered, ` +
    `${summary.seconds.toFixed(2)} s)`
  );
}
