import { type BlobDO } from "../durable/blob";
import { CHUNK_BYTES, type BlobFacts, type BlobInfo, type ChunkResult } from "../core/rpc/blob";
import type { Env } from "../core/env";
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

/** Thrown when the blob's object refuses a chunk: the upload is not current, is sealed, or the chunk passes its size. */
export class ChunkRefusedError extends Error {
  override name = "ChunkRefusedError";
  constructor(readonly reason: Exclude<ChunkResult, "stored">) {
    super(`chunk refused: ${reason}`);
  }
}

/** Thrown when the request body breaks off before its end (the client hung up or sent less than it declared). */
export class BrokenBodyError extends Error {
  override name = "BrokenBodyError";
}

/**
 * Copies a stream into a blob's chunk rows as it arrives: one chunk buffer is filled, written,
 * then reused, so memory stays at about one chunk whatever the file's size. Each write is awaited,
 * which is the backpressure. `observe` sees every piece (hashing, counting, reserving quota) with
 * the total so far, before it is stored. Returns the bytes and chunks stored.
 */
export async function storeChunks(
  stub: DurableObjectStub<BlobDO>,
  uploadId: string,
  stream: ReadableStream<Uint8Array>,
  options: { firstChunk: number; maxBytes: number; observe?: (bytes: Uint8Array, total: number) => Promise<void> },
): Promise<{ bytes: number; chunks: number }> {
  const buffer = new Uint8Array(CHUNK_BYTES);
  let filled = 0;
  let total = 0;
  let index = options.firstChunk;
  const flush = async () => {
    if (filled === 0) return;
    // Copy out: the RPC may still be serializing when the buffer is refilled.
    const result = await stub.putChunk(uploadId, index, buffer.slice(0, filled).buffer);
    if (result !== "stored") throw new ChunkRefusedError(result);
    index++;
    filled = 0;
  };
  const reader = stream.getReader();
  const read = () =>
    reader.read().catch((error: unknown) => {
      throw new BrokenBodyError(`The request body broke off after ${total} bytes: ${String(error)}`);
    });
  try {
    for (;;) {
      const { done, value } = await read();
      if (done) break;
      total += value.byteLength;
      if (total > options.maxBytes) throw new TooLargeError(total);
      await options.observe?.(value, total);
      let offset = 0;
      while (offset < value.byteLength) {
        const take = Math.min(CHUNK_BYTES - filled, value.byteLength - offset);
        buffer.set(value.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
        if (filled === CHUNK_BYTES) await flush();
      }
    }
    await flush();
    return { bytes: total, chunks: index - options.firstChunk };
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw error;
  } finally {
    reader.releaseLock();
  }
}

/** The chunks of a blob (or of a sealed upload) as a stream, read one chunk per pull. */
export function chunkStream(stub: DurableObjectStub<BlobDO>, chunkCount: number, uploadId?: string): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (index >= chunkCount) {
          controller.close();
          return;
        }
        const chunk = await stub.readChunk(index++, uploadId);
        if (!chunk) {
          controller.error(new Error(`chunk ${index - 1} is missing`));
          return;
        }
        controller.enqueue(new Uint8Array(chunk));
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * A text blob's content, read chunk by chunk; the caller has already checked from the blob's
 * token estimate that it fits, so nothing is read that will not be used.
 */
export async function readBlobText(stub: DurableObjectStub<BlobDO>, info: BlobInfo): Promise<string> {
  const decoder = new TextDecoder();
  const parts: string[] = [];
  const reader = chunkStream(stub, info.chunkCount).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(decoder.decode(value, { stream: true }));
  }
  parts.push(decoder.decode());
  return parts.join("");
}

/** Blob facts by content hash: read by every file embedding, so KV (then the isolate) caches them. */
export const blobFactsCache = new KvCache<BlobInfo | null>("blob-facts:v1", { maxEntries: 2_048, ttlSeconds: 30 * 24 * 3600 });

/**
 * A team's blob facts (size, token estimate, text or not). Blobs are immutable, so a cached
 * answer never goes stale; absent blobs are not cached, so an upload is seen at once.
 */
export async function blobInfo(env: Env, team: string, sha256: string, defer: (work: Promise<unknown>) => void): Promise<BlobInfo | null> {
  return blobFactsCache.get(env.CACHE, `${team}:${sha256}`, () => blobStub(env, team, sha256).info(), defer, (info) => info !== null);
}
