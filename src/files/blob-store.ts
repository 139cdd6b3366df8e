import { type BlobDO } from "../durable/blob";
import { tellTeam, type ActivityScope } from "../durable/team-activity";
import { BLOB_FACTS_CACHE, blobFactsKey, type BlobInfo, type BlobFacts, type PartResult } from "../core/rpc/blob";
import type { Env } from "../core/env";
import { ToolError } from "../core/errors";
import { KvCache } from "../kv-cache/cache";

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** `type/subtype` as RFC 6838 names them (letters, digits, `!#$&^_.+-`, at most 127 each). */
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/**
 * A declared media type, lower-cased and without parameters (`text/plain; charset=utf-8` ->
 * `text/plain`); "" when none is declared; undefined when it is not a well-formed type.
 */
export function parseMediaType(declared: string): string | undefined {
  if (declared.trim() === "") return "";
  const type = (declared.split(";")[0] ?? "").trim().toLowerCase();
  return MEDIA_TYPE.test(type) ? type : undefined;
}

export function blobStub(env: Env, team: string, sha256: string): DurableObjectStub<BlobDO> {
  return env.BLOBS.getByName(`${team}:${sha256}`);
}

/**
 * Facts about a byte stream gathered as it passes: SHA-256, size, lines, whether it is UTF-8
 * text, and its characters (for the token estimate). It keeps no bytes.
 */
export class StreamFacts {
  private readonly digest = new crypto.DigestStream("SHA-256");
  private readonly hashWriter = this.digest.getWriter();
  private readonly decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  private size = 0;
  private newlines = 0;
  private characters = 0;
  private lastByte = -1;
  private text: boolean;

  constructor(private readonly mediaType: string) {
    this.text = !mediaType.startsWith("image/");
  }

  async update(bytes: Uint8Array): Promise<void> {
    if (bytes.byteLength === 0) return;
    await this.hashWriter.write(bytes);
    this.size += bytes.byteLength;
    this.lastByte = bytes[bytes.byteLength - 1] ?? -1;
    for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) this.newlines++;
    if (!this.text) return;
    try {
      if (bytes.includes(0)) throw new Error("NUL byte");
      this.characters += this.decoder.decode(bytes, { stream: true }).length;
    } catch {
      this.text = false;
    }
  }

  /** The hex digest and the blob's facts; call once, after the last update. */
  async finish(): Promise<{ sha256: string; facts: BlobFacts }> {
    await this.hashWriter.close();
    const sha256 = [...new Uint8Array(await this.digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    if (this.text) {
      try {
        this.characters += this.decoder.decode().length;
      } catch {
        this.text = false;
      }
    }
    const declared = this.mediaType === "" || this.mediaType === "application/octet-stream" ? "" : this.mediaType;
    return {
      sha256,
      facts: {
        size: this.size,
        // A last line without a newline still counts as a line.
        lines: this.newlines + (this.size > 0 && this.lastByte !== 10 ? 1 : 0),
        tokens: this.text ? Math.ceil(this.characters / 4) : 0,
        text: this.text,
        mediaType: declared || (this.text ? "text/plain" : "application/octet-stream"),
      },
    };
  }
}

/** Thrown when a stream passes the byte limit it was given, with how many bytes had arrived. */
export class TooLargeError extends Error {
  override name = "TooLargeError";
  constructor(readonly bytes: number) {
    super(`more than the limit: ${bytes} bytes so far`);
  }
}

/** Thrown when the blob's object refuses a part or an upload step: the upload is not current, is sealed, or the part is not the size its number takes. */
export class UploadRefusedError extends Error {
  override name = "UploadRefusedError";
  constructor(readonly reason: Exclude<PartResult, "stored">) {
    super(`upload refused: ${reason}`);
  }
}

/** Thrown when the request body breaks off before its end (the client hung up or sent less than it declared). */
export class BrokenBodyError extends Error {
  override name = "BrokenBodyError";
}

/** R2's largest single put; a longer stream goes up in parts. */
const R2_MAX_PUT_BYTES = 5 * 1024 ** 3;

/**
 * Parts of a stream R2 cannot be told the length of: each is held in memory until it is full
 * (an R2 part's length must be known when it is sent), so this is the memory such a stream
 * takes; R2 wants at least 5 MiB per part but the last.
 */
export const STREAM_PART_BYTES = 8 * 1024 * 1024;

/** What watches a stream as it passes, before its bytes are stored. */
export interface StreamWatch {
  /** Told the bytes read so far as each piece arrives (to reserve quota ahead of them). */
  arrived?(total: number): Promise<void>;
  /** Sees every byte, a block at a time (hashing, counting). */
  observe?(bytes: Uint8Array): Promise<void>;
}

/**
 * A stream is read in blocks of this size before they are observed and written: a request body
 * arrives in pieces of a few KiB, and each costs an await in the hash and in R2's stream
 * (under `wrangler dev`, 256 MiB went up at 0.4-0.45x the hash-and-discard baseline's speed piece
 * by piece, 0.55-0.73x in blocks of 256 KiB; 1 MiB blocks were slower).
 */
const BLOCK_BYTES = 256 * 1024;

/**
 * Reads a byte stream to its end in blocks of BLOCK_BYTES (the last one shorter), handing each
 * to the watch then to `write`; each is awaited, which is the backpressure. Past `maxBytes` it
 * stops with TooLargeError as soon as a piece passes it; a body that breaks off is a
 * BrokenBodyError. Returns the bytes read.
 *
 * One block is read into and reused (a BYOB reader): reading a piece at a time into new buffers
 * left about 120 MB more resident per GiB uploaded under `wrangler dev` (each piece is memory
 * outside V8's heap, freed only when a collection comes), and this route's memory target is
 * against a worker that only hashes. `write` must be done with the bytes when it resolves (a
 * FixedLengthStream's write resolves once its reader has taken them).
 */
async function pump(stream: ReadableStream<Uint8Array>, maxBytes: number, watch: StreamWatch, write: (bytes: Uint8Array) => Promise<void>): Promise<number> {
  const reader = byobReader(stream);
  let total = 0;
  // A BYOB read hands the buffer back under a new handle (the old one is detached): same memory.
  let buffer = new ArrayBuffer(BLOCK_BYTES);
  try {
    for (let ended = false; !ended; ) {
      let filled = 0;
      while (filled < BLOCK_BYTES) {
        const { done, value } = await reader.read(new Uint8Array(buffer, filled, BLOCK_BYTES - filled)).catch((error: unknown) => {
          throw new BrokenBodyError(`The request body broke off after ${total} bytes: ${String(error)}`);
        });
        if (!value) throw new BrokenBodyError(`The request body was cancelled after ${total} bytes`);
        buffer = value.buffer;
        if (done) {
          ended = true;
          break;
        }
        filled += value.byteLength;
        total += value.byteLength;
        if (total > maxBytes) throw new TooLargeError(total);
        await watch.arrived?.(total);
      }
      if (filled === 0) break;
      const bytes = new Uint8Array(buffer, 0, filled);
      await watch.observe?.(bytes);
      await write(bytes);
    }
    return total;
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw error;
  } finally {
    reader.releaseLock();
  }
}

/**
 * A BYOB reader of the stream. Bodies from the network and R2 are byte streams; a stream made
 * in JavaScript (a test's body, a body rebuilt in the isolate) is piped into one first.
 */
function byobReader(stream: ReadableStream<Uint8Array>): ReadableStreamBYOBReader {
  try {
    return stream.getReader({ mode: "byob" });
  } catch {
    return stream.pipeThrough(new IdentityTransformStream()).getReader({ mode: "byob" });
  }
}

/** Every byte of a stream through `observe`, a block at a time (the facts of an object already stored). */
export async function observeAll(stream: ReadableStream<Uint8Array>, observe: (bytes: Uint8Array) => Promise<void>): Promise<void> {
  await pump(stream, Number.POSITIVE_INFINITY, { observe }, async () => undefined);
}

/** Streams exactly `length` bytes into `send`, which receives a body of that known length (R2 needs one). */
async function streamKnownLength<T>(
  stream: ReadableStream<Uint8Array>,
  length: number,
  watch: StreamWatch,
  send: (body: ReadableStream<Uint8Array>) => Promise<T>,
): Promise<T> {
  const { readable, writable } = new FixedLengthStream(length);
  const sent = send(readable);
  const writer = writable.getWriter();
  try {
    const total = await pump(stream, length, watch, (bytes) => writer.write(bytes));
    if (total < length) throw new BrokenBodyError(`The body ended after ${total} of the ${length} bytes declared`);
    await writer.close();
    return await sent;
  } catch (error) {
    await writer.abort(error).catch(() => undefined);
    await sent.catch(() => undefined);
    throw error;
  }
}

export interface ObjectWrite {
  bucket: R2Bucket;
  key: string;
  mediaType: string;
  /** The declared length, which the stream must fill exactly; null for a stream of unknown length. */
  length: number | null;
  /** The most a stream of unknown length may hold. */
  maxBytes: number;
  watch: StreamWatch;
  /** Told the R2 multipart upload a long stream goes up in, before its first part (to abort it if the upload is abandoned). */
  onMultipart(multipartId: string): Promise<void>;
}

/**
 * Streams a body into an R2 object without holding it: with a known length (up to R2's largest
 * put) in one put, otherwise in parts of STREAM_PART_BYTES, one held at a time. Nothing is left
 * behind when it fails (a multipart upload is aborted; a failed put stores nothing). Returns
 * the bytes stored.
 */
export async function writeObject(stream: ReadableStream<Uint8Array>, write: ObjectWrite): Promise<number> {
  const options = { httpMetadata: { contentType: write.mediaType || "application/octet-stream" } };
  if (write.length !== null && write.length > 0 && write.length <= R2_MAX_PUT_BYTES) {
    await streamKnownLength(stream, write.length, write.watch, (body) => write.bucket.put(write.key, body, options));
    return write.length;
  }
  const buffer = new Uint8Array(STREAM_PART_BYTES);
  let filled = 0;
  let multipart: R2MultipartUpload | undefined;
  const parts: R2UploadedPart[] = [];
  const sendPart = async () => {
    if (!multipart) {
      multipart = await write.bucket.createMultipartUpload(write.key, options);
      await write.onMultipart(multipart.uploadId);
    }
    // A copy: the buffer is refilled while R2 may still hold the view.
    parts.push(await multipart.uploadPart(parts.length + 1, buffer.slice(0, filled)));
    filled = 0;
  };
  try {
    const total = await pump(stream, write.length ?? write.maxBytes, write.watch, async (bytes) => {
      for (let offset = 0; offset < bytes.byteLength; ) {
        const take = Math.min(STREAM_PART_BYTES - filled, bytes.byteLength - offset);
        buffer.set(bytes.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
        if (filled === STREAM_PART_BYTES) await sendPart();
      }
    });
    if (write.length !== null && total < write.length) throw new BrokenBodyError(`The body ended after ${total} of the ${write.length} bytes declared`);
    if (multipart) {
      if (filled > 0) await sendPart();
      await multipart.complete(parts);
    } else {
      await write.bucket.put(write.key, buffer.slice(0, filled), options);
    }
    return total;
  } catch (error) {
    await multipart?.abort().catch(() => undefined);
    throw error;
  }
}

/** Streams one multipart part of exactly `length` bytes into R2; its etag, for completing. */
export async function writePart(
  bucket: R2Bucket,
  upload: { key: string; multipartId: string },
  part: number,
  stream: ReadableStream<Uint8Array>,
  length: number,
): Promise<string> {
  const multipart = bucket.resumeMultipartUpload(upload.key, upload.multipartId);
  const uploaded = await streamKnownLength(stream, length, {}, (body) => multipart.uploadPart(part, body));
  return uploaded.etag;
}

/**
 * A committed blob's bytes from R2; a blob of the release before R2 is moved there first (once).
 * Null when they are gone (the blob expired since its facts were read).
 */
export async function blobBody(env: Env, team: string, info: BlobInfo): Promise<ReadableStream<Uint8Array> | null> {
  const key = info.key !== "" ? info.key : ((await blobStub(env, team, info.sha256).moveToR2())?.key ?? "");
  if (key === "") return null;
  return (await env.BLOB_BUCKET.get(key))?.body ?? null;
}

/**
 * A blob's bytes for a model (the caller has checked from its facts that they are wanted); the
 * read tells the team that a thread references the blob, which keeps it from expiring.
 */
export async function readForModel(scope: ActivityScope, info: BlobInfo, path: string): Promise<ReadableStream<Uint8Array>> {
  tellTeam(scope, { blobUsed: info.sha256 });
  const body = await blobBody(scope.env, scope.team, info);
  if (!body) throw new ToolError(`'${path}' can no longer be read on the server: upload it again.`);
  return body;
}

/**
 * A text blob's content; the caller has already checked from the blob's token estimate that it
 * fits, so nothing is read that will not be used.
 */
export async function readBlobText(scope: ActivityScope, info: BlobInfo, path: string): Promise<string> {
  const decoder = new TextDecoder();
  const parts: string[] = [];
  const reader = (await readForModel(scope, info, path)).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(decoder.decode(value, { stream: true }));
  }
  parts.push(decoder.decode());
  return parts.join("");
}

/**
 * Blob facts by content hash: read by every file embedding, so KV (then the isolate) caches them.
 * Facts of a blob whose bytes are still in rows are not cached: they change when it moves to R2.
 */
export const blobFactsCache = new KvCache<BlobInfo | null>(BLOB_FACTS_CACHE, { maxEntries: 2_048, ttlSeconds: 30 * 24 * 3600 });

/**
 * A team's blob facts (size, token estimate, text or not). Blobs are immutable until they
 * expire (which deletes the KV entry), so a cached answer holds while they live; absent blobs are
 * not cached, so an upload is seen at once.
 */
export async function blobInfo(env: Env, team: string, sha256: string, defer: (work: Promise<unknown>) => void): Promise<BlobInfo | null> {
  return blobFactsCache.get(env.CACHE, blobFactsKey(team, sha256), () => blobStub(env, team, sha256).info(), defer, (info) => info !== null && info.key !== "");
}
