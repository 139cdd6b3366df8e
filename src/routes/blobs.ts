import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { configOf } from "../core/config";
import { expectedPartBytes, type BlobDO } from "../durable/blob";
import type { UploadRequest } from "../core/rpc/blob";
import type { QuotaUsage } from "../core/rpc/team";
import type { AppBindings } from "../core/env";
import {
  BrokenBodyError,
  SHA256_HEX,
  StreamFacts,
  TooLargeError,
  UploadRefusedError,
  blobBody,
  blobInfo,
  blobStub,
  observeAll,
  parseMediaType,
  writeObject,
  writePart,
} from "../files/blob-store";
import { WORKSPACE_PATTERN, WORKSPACE_RULE } from "../core/wire-contract";
import { jsonBody, valid } from "./validation";

type AppContext = Context<AppBindings>;
type BlobStub = DurableObjectStub<BlobDO>;

function jsonError(c: AppContext, status: 400 | 404 | 409 | 413, error: string, message: string) {
  return c.json({ error, message }, status);
}

/** The blob a path names, by its SHA-256 in any case; an upload's body is dropped unread when it is malformed. */
const shaParam = z.string().toLowerCase().regex(SHA256_HEX);
const validSha = valid("param", z.object({ sha256: shaParam }), (c) =>
  unread(c, jsonError(c, 400, "bad_hash", "The path must name the file's SHA-256 as 64 hex characters: /v1/blobs/<sha256>.")),
);

/** Largest JSON bodies: a manifest batch, a presence check (1,000 hashes take about 67 KB), anything else. */
const MANIFEST_BODY_BYTES = 8 * 1024 * 1024;
const PRESENCE_BODY_BYTES = 128 * 1024;
const SMALL_BODY_BYTES = 64 * 1024;

/** Hono's body limit for a JSON route, answered like every other refusal. */
function jsonBodyLimit(maxBytes: number): MiddlewareHandler<AppBindings> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) =>
      c.json({ error: "payload_too_large", message: `The request body is over ${maxBytes} bytes, the most this route accepts.` }, 413),
  });
}

/** Answers without reading the upload's body, which is dropped. */
async function unread(c: AppContext, response: Response): Promise<Response> {
  await c.req.raw.body?.cancel();
  return response;
}

function badMediaType(c: AppContext): Response {
  return jsonError(
    c,
    400,
    "bad_media_type",
    "The media type must be a well-formed type/subtype such as text/plain or image/png (letters, digits and !#$&^_.+-, at most 127 characters each).",
  );
}

function tooLarge(c: AppContext, maxBytes: number): Response {
  return jsonError(c, 413, "too_large", `The file is over ${maxBytes} bytes, the most this server stores in one file (MAX_BLOB_BYTES).`);
}

function quotaExceeded(c: AppContext, usage: QuotaUsage, what = "The file"): Response {
  const quota = configOf(c.env).blobs.teamQuotaBytes;
  return jsonError(
    c,
    413,
    "quota_exceeded",
    `${what} would pass the team's storage quota of ${quota} bytes (${usage.storedBytes} stored, ${usage.reservedBytes} reserved by uploads in progress, ${usage.manifestBytes} in workspace manifests; TEAM_BLOB_QUOTA_BYTES). Uploads abandoned for an hour give their room back.`,
  );
}

function superseded(c: AppContext): Response {
  return jsonError(c, 409, "superseded", "Another upload of this file started meanwhile; check with HEAD, and retry if it did not complete.");
}

function unknownUpload(c: AppContext): Response {
  return jsonError(c, 404, "unknown_upload", "This upload is unknown, was superseded or abandoned; begin a new one.");
}

function uploadSealed(c: AppContext): Response {
  return jsonError(c, 409, "upload_sealed", "This upload is being completed and takes no more parts; if completing fails, begin a new one.");
}

function brokenBody(c: AppContext, error: BrokenBodyError): Response {
  return jsonError(c, 400, "broken_body", `${error.message}. Nothing of it was kept; send it again.`);
}

function declaredLength(c: AppContext): number | undefined {
  const header = c.req.header("content-length");
  return header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
}

/** Starting an upload of `sha256`: exactly `size` bytes, or a stream of unknown length when null. */
function uploadRequest(c: AppContext, sha256: string, size: number | null, mediaType: string): UploadRequest {
  const { maxBytes, teamQuotaBytes } = configOf(c.env).blobs;
  return { team: c.get("team"), sha256, uploadId: crypto.randomUUID(), size, maxBytes, mediaType, quotaBytes: teamQuotaBytes };
}

/** A stream of unknown length that passed the room left in the team's quota. */
class QuotaExceededError extends Error {
  override name = "QuotaExceededError";
  constructor(readonly usage: QuotaUsage) {
    super("the team's storage quota is used up");
  }
}

/** How far a stream of unknown length reserves ahead of its bytes: one round trip to the team per step. */
const RESERVATION_STEP_BYTES = 16 * 1024 * 1024;

/** Keeps the reservation of a stream of unknown length ahead of the bytes that have arrived. */
function reservationGrower(c: AppContext, upload: UploadRequest): (total: number) => Promise<void> {
  const team = c.env.TEAMS.getByName(upload.team);
  let reserved = 0;
  return async (total) => {
    if (total <= reserved) return;
    const upTo = Math.min(upload.maxBytes, total + RESERVATION_STEP_BYTES);
    const result = await team.growReservation(upload.sha256, upload.uploadId, total, upTo, upload.quotaBytes);
    if (result.status === "quota_exceeded") throw new QuotaExceededError(result.usage);
    if (result.status === "superseded") throw new UploadRefusedError("unknown_upload");
    reserved = result.bytes;
  };
}

/**
 * `/v1/blobs`: content-addressed uploads. An upload reserves its room in the team's quota before
 * its first byte, streams into an R2 object of its own (hashed and counted on the way), and
 * becomes visible only when its hash matches the URL; the blob's object keeps the facts.
 */
export const blobRoutes = new Hono<AppBindings>();

const MAX_PRESENCE_CHECK = 1_000;
const presenceSchema = z.object({ sha256: z.array(z.string().regex(SHA256_HEX)).max(MAX_PRESENCE_CHECK) });

/** Which of these blobs the team lacks: one request instead of a HEAD per file. */
blobRoutes.post(
  "/missing",
  jsonBodyLimit(PRESENCE_BODY_BYTES),
  jsonBody(presenceSchema, (c) => jsonError(c, 400, "bad_request", `Send JSON {"sha256": ["<64 hex>", ...]} with at most ${MAX_PRESENCE_CHECK} hashes.`)),
  async (c) => {
    const hashes = [...new Set(c.req.valid("json").sha256)];
    const defer = (work: Promise<unknown>) => c.executionCtx.waitUntil(work);
    const known = await Promise.all(hashes.map((sha256) => blobInfo(c.env, c.get("team"), sha256, defer)));
    return c.json({ missing: hashes.filter((_, i) => known[i] === null) });
  },
);

/** Blobs are served as downloads and never sniffed: their media type is only what the uploader declared. */
const SERVED_HEADERS = { "x-content-type-options": "nosniff", "content-disposition": "attachment" };

blobRoutes.on("HEAD", "/:sha256", validSha, async (c) => {
  const { sha256 } = c.req.valid("param");
  const info = await blobStub(c.env, c.get("team"), sha256).info();
  if (!info) return c.body(null, 404);
  return c.body(null, 200, { ...SERVED_HEADERS, "content-length": String(info.size), "content-type": info.mediaType });
});

blobRoutes.get("/:sha256", validSha, async (c) => {
  const { sha256 } = c.req.valid("param");
  const info = await blobStub(c.env, c.get("team"), sha256).info();
  const body = info ? await blobBody(c.env, c.get("team"), info) : null;
  if (!info || !body) return jsonError(c, 404, "not_found", `No file with SHA-256 ${sha256} has been uploaded by this team.`);
  return c.body(body, 200, {
    ...SERVED_HEADERS,
    "content-type": info.mediaType,
    "content-length": String(info.size),
  });
});

/**
 * One streamed PUT. With a Content-Length the whole size is reserved up front and the body must
 * be exactly that long; without one the reservation grows as the bytes arrive.
 */
blobRoutes.put("/:sha256", validSha, async (c) => {
  const { sha256 } = c.req.valid("param");
  const mediaType = parseMediaType(c.req.header("content-type") ?? "");
  if (mediaType === undefined) return unread(c, badMediaType(c));
  const { maxBytes } = configOf(c.env).blobs;
  const declared = declaredLength(c);
  if (declared !== undefined && declared > maxBytes) return unread(c, tooLarge(c, maxBytes));

  const upload = uploadRequest(c, sha256, declared ?? null, mediaType);
  const stub = blobStub(c.env, upload.team, sha256);
  const begun = await stub.begin(upload);
  if (begun.status === "complete") return unread(c, c.json(begun.info, 200));
  if (begun.status === "quota_exceeded") return unread(c, quotaExceeded(c, begun.usage));

  // An empty file has no body stream at all.
  const body = c.req.raw.body ?? new Blob([]).stream();
  const facts = new StreamFacts(mediaType);
  const reserve = declared === undefined ? reservationGrower(c, upload) : undefined;
  try {
    await writeObject(body, {
      bucket: c.env.BLOB_BUCKET,
      key: begun.key,
      mediaType,
      length: declared ?? null,
      maxBytes,
      watch: { arrived: reserve, observe: (bytes) => facts.update(bytes) },
      onMultipart: async (multipartId) => {
        if (!(await stub.attachMultipart(upload.uploadId, multipartId))) throw new UploadRefusedError("unknown_upload");
      },
    });
  } catch (error) {
    await stub.abort(upload.uploadId);
    if (error instanceof TooLargeError) {
      return declared === undefined
        ? tooLarge(c, maxBytes)
        : jsonError(c, 413, "too_large", `The body is longer than its Content-Length of ${declared} bytes; nothing was stored.`);
    }
    if (error instanceof QuotaExceededError) return quotaExceeded(c, error.usage);
    if (error instanceof UploadRefusedError) return superseded(c);
    if (error instanceof BrokenBodyError) return brokenBody(c, error);
    throw error;
  }
  return commitUpload(c, stub, sha256, upload.uploadId, begun.key, facts);
});

/**
 * The last step of every upload, once its bytes are in R2 under its own key and hashed: the hash
 * must match, then the blob's object checks the size and commits. An upload that fails here
 * deletes its object; one another upload superseded meanwhile deletes only its own key.
 */
async function commitUpload(c: AppContext, stub: BlobStub, sha256: string, uploadId: string, key: string, facts: StreamFacts) {
  const hashed = await facts.finish();
  if (hashed.sha256 !== sha256) {
    await stub.abort(uploadId);
    return jsonError(c, 400, "hash_mismatch", `The content's SHA-256 is ${hashed.sha256}, not ${sha256}: nothing was stored. Hash the file again and retry.`);
  }
  const committed = await stub.commit(uploadId, hashed.facts);
  if (committed.status === "committed") return c.json(committed.info, 201);
  if (committed.status === "unknown_upload") {
    await c.env.BLOB_BUCKET.delete(key);
    return superseded(c);
  }
  await stub.abort(uploadId);
  return jsonError(
    c,
    409,
    "changed_while_completing",
    `The server hashed ${committed.size} bytes, but the upload declared ${committed.sizeLimit}: nothing was stored. Upload the file again.`,
  );
}

const beginSchema = z.object({ size: z.number().int().nonnegative(), mediaType: z.string().optional() });

/** Multipart parts are all of this size but the last (R2 wants them equal), so each part's place is known whatever their order. */
function partBytes(c: AppContext): number {
  return configOf(c.env).blobs.partMib * 1024 * 1024;
}

/**
 * Multipart: for files over a deploy's request-body limit (about 100 MB), uploaded in parts, an R2
 * multipart upload beneath. Beginning reserves the declared size; parts must fill exactly that
 * size. The upload's id is answered once its R2 multipart upload is recorded.
 */
blobRoutes.post(
  "/:sha256/uploads",
  jsonBodyLimit(SMALL_BODY_BYTES),
  validSha,
  jsonBody(beginSchema, (c) => jsonError(c, 400, "bad_request", 'Send JSON {"size": <bytes>, "mediaType": "<type>"}.')),
  async (c) => {
    const { sha256 } = c.req.valid("param");
    const begin = c.req.valid("json");
    const mediaType = parseMediaType(begin.mediaType ?? "");
    if (mediaType === undefined) return badMediaType(c);
    const { maxBytes } = configOf(c.env).blobs;
    if (begin.size > maxBytes) return tooLarge(c, maxBytes);
    const upload = uploadRequest(c, sha256, begin.size, mediaType);
    const stub = blobStub(c.env, upload.team, sha256);
    const begun = await stub.begin(upload);
    if (begun.status === "complete") return c.json({ ...begun.info, uploadId: null, partSize: partBytes(c) }, 200);
    if (begun.status === "quota_exceeded") return quotaExceeded(c, begun.usage);
    const multipart = await c.env.BLOB_BUCKET.createMultipartUpload(begun.key, { httpMetadata: { contentType: mediaType || "application/octet-stream" } });
    if (!(await stub.attachMultipart(upload.uploadId, multipart.uploadId))) {
      await multipart.abort();
      return superseded(c);
    }
    return c.json({ uploadId: upload.uploadId, partSize: partBytes(c) }, 201);
  },
);

/**
 * A part's number: a whole number from 1 (a huge one is refused later, as past the declared
 * size). It runs after validSha, whose hash it passes on: each check replaces the last's output.
 */
const validPart = valid("param", z.object({ sha256: shaParam, part: z.coerce.number().refine((n) => Number.isInteger(n) && n >= 1) }), (c) =>
  unread(c, jsonError(c, 400, "bad_part", "Parts are numbered from 1.")),
);

blobRoutes.put("/:sha256/uploads/:uploadId/parts/:part", validSha, validPart, async (c) => {
  const { sha256, part } = c.req.valid("param");
  const body = c.req.raw.body;
  if (!body) return jsonError(c, 400, "empty_body", "Send the part's bytes as the request body.");
  const uploadId = c.req.param("uploadId");
  const stub = blobStub(c.env, c.get("team"), sha256);
  const upload = await stub.upload(uploadId);
  if (!upload) return unread(c, unknownUpload(c));
  if (upload.sealed) return unread(c, uploadSealed(c));
  const partSize = partBytes(c);
  const length = expectedPartBytes(upload.sizeLimit, part, partSize);
  if (length === 0) {
    const parts = Math.ceil(upload.sizeLimit / partSize);
    return unread(
      c,
      jsonError(c, 413, "part_out_of_range", `Part ${part} starts past the declared size of ${upload.sizeLimit} bytes, which takes ${parts} parts of ${partSize} bytes.`),
    );
  }
  const partTooLarge = () =>
    jsonError(c, 413, "part_too_large", `Part ${part} holds exactly ${length} bytes (parts of ${partSize} bytes, ${upload.sizeLimit} bytes declared).`);
  const declared = declaredLength(c);
  if (declared !== undefined && declared > length) return unread(c, partTooLarge());
  try {
    const etag = await writePart(c.env.BLOB_BUCKET, upload, part, body, length);
    const recorded = await stub.recordPart(uploadId, part, etag, length, partSize);
    if (recorded !== "stored") throw new UploadRefusedError(recorded);
    return c.json({ part, size: length });
  } catch (error) {
    if (error instanceof TooLargeError) return partTooLarge();
    if (error instanceof UploadRefusedError) {
      if (error.reason === "beyond_size") return partTooLarge();
      return error.reason === "sealed" ? uploadSealed(c) : unknownUpload(c);
    }
    if (error instanceof BrokenBodyError) return brokenBody(c, error);
    throw error;
  }
});

const completeSchema = z.object({ mediaType: z.string().optional() });

/**
 * Completing seals the upload (no part is accepted after), completes its R2 multipart upload,
 * reads the object back in order to hash it (parts may arrive in any order), and commits what it
 * hashed.
 */
blobRoutes.post(
  "/:sha256/uploads/:uploadId/complete",
  jsonBodyLimit(SMALL_BODY_BYTES),
  validSha,
  jsonBody(completeSchema, (c) => jsonError(c, 400, "bad_request", 'Send JSON {"mediaType": "<type>"}, or no body.'), {}),
  async (c) => {
    const { sha256 } = c.req.valid("param");
    const mediaType = parseMediaType(c.req.valid("json").mediaType ?? "");
    if (mediaType === undefined) return badMediaType(c);
    const uploadId = c.req.param("uploadId");
    const stub = blobStub(c.env, c.get("team"), sha256);
    const sealed = await stub.seal(uploadId, partBytes(c));
    if (sealed.status === "unknown_upload") return unknownUpload(c);
    if (sealed.status === "incomplete") {
      return jsonError(
        c,
        400,
        "missing_parts",
        `${sealed.storedBytes} of the ${sealed.size} bytes declared have arrived: send every part from 1 to the last, then complete again.`,
      );
    }
    const bucket = c.env.BLOB_BUCKET;
    const multipart = bucket.resumeMultipartUpload(sealed.key, sealed.multipartId);
    try {
      // An empty file has no part, which R2 cannot complete: it is an empty object.
      if (sealed.parts.length === 0) {
        await multipart.abort();
        await bucket.put(sealed.key, new Uint8Array(0));
      } else {
        await multipart.complete(sealed.parts);
      }
    } catch (error) {
      await stub.abort(uploadId);
      return jsonError(c, 409, "changed_while_completing", `The parts could not be put together (${String(error)}): nothing was stored. Upload the file again.`);
    }
    const facts = new StreamFacts(mediaType || sealed.mediaType);
    const stored = await bucket.get(sealed.key);
    if (!stored) return unknownUpload(c);
    await observeAll(stored.body, (bytes) => facts.update(bytes));
    return commitUpload(c, stub, sha256, uploadId, sealed.key, facts);
  },
);

/** The workspace a request names (header `x-zen-workspace`), "default" without one, undefined if malformed. */
export function workspaceOf(header: string | undefined): string | undefined {
  if (header === undefined) return "default";
  return WORKSPACE_PATTERN.test(header) ? header : undefined;
}
const manifestSchema = z.object({ files: z.record(z.string().min(1).max(4_096), z.string().regex(SHA256_HEX)) });
const MAX_MANIFEST_ENTRIES = 20_000;

/** `/v1/workspaces/:workspace/manifest`: the assistant's absolute paths -> uploaded blobs. */
export const workspaceRoutes = new Hono<AppBindings>();

workspaceRoutes.put(
  "/:workspace/manifest",
  jsonBodyLimit(MANIFEST_BODY_BYTES),
  valid("param", z.object({ workspace: z.string().regex(WORKSPACE_PATTERN) }), (c) =>
    jsonError(c, 400, "bad_workspace", `Workspace ids are ${WORKSPACE_RULE}.`),
  ),
  jsonBody(manifestSchema, (c) => jsonError(c, 400, "bad_manifest", 'Send JSON {"files": {"/abs/path": "<sha256 hex>"}}.')),
  async (c) => {
    const { workspace } = c.req.valid("param");
    const entries = Object.entries(c.req.valid("json").files).map(([path, sha256]) => ({ path, sha256 }));
    if (entries.length > MAX_MANIFEST_ENTRIES) {
      return jsonError(c, 413, "too_many_files", `Register at most ${MAX_MANIFEST_ENTRIES} files per request.`);
    }
    const registration = await c.env.TEAMS.getByName(c.get("team")).registerFiles(workspace, entries, configOf(c.env).blobs.teamQuotaBytes);
    if (registration.status === "quota_exceeded") return quotaExceeded(c, registration.usage, "Registering these files");
    return c.json({ workspace, registered: registration.registered });
  },
);
