import { Hono, type Context } from "hono";
import { z } from "zod";
import { configOf } from "../config";
import type { AppBindings } from "../env";
import {
  CHUNK_BYTES,
  SHA256_HEX,
  StreamFacts,
  SupersededError,
  TooLargeError,
  blobInfo,
  blobStub,
  chunkStream,
  storeChunks,
} from "./blob-store";
import { WORKSPACE_PATTERN, WORKSPACE_RULE } from "./wire-contract";

type AppContext = Context<AppBindings>;

function jsonError(c: AppContext, status: 400 | 404 | 409 | 413, error: string, message: string) {
  return c.json({ error, message }, status);
}

function checkSha(c: AppContext): string | Response {
  const sha256 = c.req.param("sha256")?.toLowerCase() ?? "";
  return SHA256_HEX.test(sha256)
    ? sha256
    : jsonError(c, 400, "bad_hash", "The path must name the file's SHA-256 as 64 hex characters: /v1/blobs/<sha256>.");
}

/**
 * How many bytes this upload may take: the per-file limit or what is left of the team's quota,
 * whichever is smaller. Checked against a declared size up front and enforced while streaming,
 * since a chunked upload declares none.
 */
async function uploadRoom(c: AppContext): Promise<{ maxBytes: number; tooLarge: (size: number) => Response }> {
  const { maxBytes, teamQuotaBytes } = configOf(c.env).blobs;
  const used = await c.env.TEAMS.getByName(c.get("team")).blobBytes();
  const left = Math.max(0, teamQuotaBytes - used);
  const tooLarge = (size: number) =>
    size > maxBytes
      ? jsonError(c, 413, "too_large", `The file is over ${maxBytes} bytes, the most this server stores in one file (MAX_BLOB_BYTES).`)
      : jsonError(
          c,
          413,
          "quota_exceeded",
          `The file would pass the team's storage quota of ${teamQuotaBytes} bytes (${used} used; TEAM_BLOB_QUOTA_BYTES).`,
        );
  return { maxBytes: Math.min(maxBytes, left), tooLarge };
}

function declaredLength(c: AppContext): number | undefined {
  const header = c.req.header("content-length");
  return header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
}

function mediaTypeOf(c: AppContext): string {
  return (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/**
 * `/v1/blobs`: content-addressed uploads. A file streams in, is hashed and counted on the way,
 * and is stored chunk by chunk; it becomes visible only when its hash matches the URL.
 */
export const blobRoutes = new Hono<AppBindings>();

const MAX_PRESENCE_CHECK = 1_000;
const presenceSchema = z.object({ sha256: z.array(z.string().regex(SHA256_HEX)).max(MAX_PRESENCE_CHECK) });

/** Which of these blobs the team lacks: one request instead of a HEAD per file. */
blobRoutes.post("/missing", async (c) => {
  const parsed = presenceSchema.safeParse(await c.req.json().catch(() => undefined));
  if (!parsed.success) {
    return jsonError(c, 400, "bad_request", `Send JSON {"sha256": ["<64 hex>", ...]} with at most ${MAX_PRESENCE_CHECK} hashes.`);
  }
  const hashes = [...new Set(parsed.data.sha256)];
  const defer = (work: Promise<unknown>) => c.executionCtx.waitUntil(work);
  const known = await Promise.all(hashes.map((sha256) => blobInfo(c.env, c.get("team"), sha256, defer)));
  return c.json({ missing: hashes.filter((_, i) => known[i] === null) });
});

blobRoutes.on("HEAD", "/:sha256", async (c) => {
  const sha256 = checkSha(c);
  if (sha256 instanceof Response) return sha256;
  const info = await blobStub(c.env, c.get("team"), sha256).info();
  if (!info) return c.body(null, 404);
  return c.body(null, 200, { "content-length": String(info.size), "content-type": info.mediaType });
});

blobRoutes.get("/:sha256", async (c) => {
  const sha256 = checkSha(c);
  if (sha256 instanceof Response) return sha256;
  const stub = blobStub(c.env, c.get("team"), sha256);
  const info = await stub.info();
  if (!info) return jsonError(c, 404, "not_found", `No file with SHA-256 ${sha256} has been uploaded by this team.`);
  return c.body(chunkStream(stub, info.chunkCount), 200, { "content-type": info.mediaType, "content-length": String(info.size) });
});

blobRoutes.put("/:sha256", async (c) => {
  const sha256 = checkSha(c);
  if (sha256 instanceof Response) return sha256;
  const team = c.get("team");
  const stub = blobStub(c.env, team, sha256);
  const existing = await stub.info();
  if (existing) {
    await c.req.raw.body?.cancel();
    return c.json(existing, 200);
  }
  const room = await uploadRoom(c);
  const declared = declaredLength(c);
  if (declared !== undefined && declared > room.maxBytes) {
    await c.req.raw.body?.cancel();
    return room.tooLarge(declared);
  }
  // An empty file has no body stream at all.
  const body = c.req.raw.body ?? new Blob([]).stream();

  const uploadId = crypto.randomUUID();
  await stub.begin(sha256, uploadId);
  const facts = new StreamFacts(mediaTypeOf(c));
  try {
    await storeChunks(stub, uploadId, body, { firstChunk: 0, maxBytes: room.maxBytes, observe: (bytes) => facts.update(bytes) });
  } catch (error) {
    await stub.abort(uploadId);
    if (error instanceof TooLargeError) return room.tooLarge(error.bytes);
    if (error instanceof SupersededError) return superseded(c);
    throw error;
  }
  return commitUpload(c, sha256, uploadId, facts);
});

function superseded(c: AppContext): Response {
  return jsonError(c, 409, "superseded", "Another upload of this file started meanwhile; check with HEAD, and retry if it did not complete.");
}

async function commitUpload(c: AppContext, sha256: string, uploadId: string, facts: StreamFacts): Promise<Response> {
  const stub = blobStub(c.env, c.get("team"), sha256);
  const result = await facts.finish();
  if (result.sha256 !== sha256) {
    await stub.abort(uploadId);
    return jsonError(c, 400, "hash_mismatch", `The content's SHA-256 is ${result.sha256}, not ${sha256}: nothing was stored. Hash the file again and retry.`);
  }
  const info = await stub.commit(uploadId, result.facts);
  if (!info) return superseded(c);
  c.executionCtx.waitUntil(c.env.TEAMS.getByName(c.get("team")).addBlobBytes(info.size));
  return c.json(info, 201);
}

const beginSchema = z.object({ size: z.number().int().nonnegative(), mediaType: z.string().max(200).optional() });

/** Multipart parts hold whole chunks, so each part's chunk indexes are known whatever their order. */
function partBytes(c: AppContext): number {
  return configOf(c.env).blobs.partChunks * CHUNK_BYTES;
}

/** Multipart: for files over a deploy's request-body limit (about 100 MB), uploaded in parts. */
blobRoutes.post("/:sha256/uploads", async (c) => {
  const sha256 = checkSha(c);
  if (sha256 instanceof Response) return sha256;
  const parsed = beginSchema.safeParse(await c.req.json().catch(() => undefined));
  if (!parsed.success) return jsonError(c, 400, "bad_request", 'Send JSON {"size": <bytes>, "mediaType": "<type>"}.');
  const stub = blobStub(c.env, c.get("team"), sha256);
  const existing = await stub.info();
  if (existing) return c.json({ ...existing, uploadId: null, partSize: partBytes(c) }, 200);
  const room = await uploadRoom(c);
  if (parsed.data.size > room.maxBytes) return room.tooLarge(parsed.data.size);
  const uploadId = crypto.randomUUID();
  await stub.begin(sha256, uploadId);
  return c.json({ uploadId, partSize: partBytes(c) }, 201);
});

blobRoutes.put("/:sha256/uploads/:uploadId/parts/:part", async (c) => {
  const sha256 = checkSha(c);
  if (sha256 instanceof Response) return sha256;
  const part = Number(c.req.param("part"));
  const body = c.req.raw.body;
  if (!Number.isInteger(part) || part < 1 || part > 10_000) return jsonError(c, 400, "bad_part", "Parts are numbered from 1.");
  if (!body) return jsonError(c, 400, "empty_body", "Send the part's bytes as the request body.");
  const stub = blobStub(c.env, c.get("team"), sha256);
  try {
    const size = await storeChunks(stub, c.req.param("uploadId"), body, {
      firstChunk: (part - 1) * configOf(c.env).blobs.partChunks,
      maxBytes: partBytes(c),
    });
    return c.json({ part, size });
  } catch (error) {
    if (error instanceof TooLargeError) return jsonError(c, 413, "part_too_large", `A part holds at most ${partBytes(c)} bytes.`);
    if (error instanceof SupersededError) return jsonError(c, 404, "unknown_upload", "This upload is unknown or was superseded; begin a new one.");
    throw error;
  }
});

/** Completing re-reads the stored chunks in order to hash them: parts may arrive in any order. */
blobRoutes.post("/:sha256/uploads/:uploadId/complete", async (c) => {
  const sha256 = checkSha(c);
  if (sha256 instanceof Response) return sha256;
  const uploadId = c.req.param("uploadId");
  const stub = blobStub(c.env, c.get("team"), sha256);
  const indexes = await stub.chunkIndexes();
  if (indexes.some((index, i) => index !== i)) {
    return jsonError(c, 400, "missing_parts", "Some parts were not uploaded: every part from 1 to the last must be sent before completing.");
  }
  const body = await c.req.json().catch(() => ({}));
  const facts = new StreamFacts(typeof body?.mediaType === "string" ? body.mediaType : "");
  const reader = chunkStream(stub, indexes.length, uploadId).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await facts.update(value);
    }
  } catch {
    return jsonError(c, 404, "unknown_upload", "This upload is unknown or was superseded; begin a new one.");
  }
  return commitUpload(c, sha256, uploadId, facts);
});

/** The workspace a request names (header `x-zen-workspace`), "default" without one, undefined if malformed. */
export function workspaceOf(header: string | undefined): string | undefined {
  if (header === undefined) return "default";
  return WORKSPACE_PATTERN.test(header) ? header : undefined;
}
const manifestSchema = z.object({ files: z.record(z.string().min(1).max(4_096), z.string().regex(SHA256_HEX)) });
const MAX_MANIFEST_ENTRIES = 20_000;

/** `/v1/workspaces/:workspace/manifest`: the assistant's absolute paths -> uploaded blobs. */
export const workspaceRoutes = new Hono<AppBindings>();

workspaceRoutes.put("/:workspace/manifest", async (c) => {
  const workspace = c.req.param("workspace");
  if (!WORKSPACE_PATTERN.test(workspace)) return jsonError(c, 400, "bad_workspace", `Workspace ids are ${WORKSPACE_RULE}.`);
  const parsed = manifestSchema.safeParse(await c.req.json().catch(() => undefined));
  if (!parsed.success) return jsonError(c, 400, "bad_manifest", 'Send JSON {"files": {"/abs/path": "<sha256 hex>"}}.');
  const entries = Object.entries(parsed.data.files).map(([path, sha256]) => ({ path, sha256 }));
  if (entries.length > MAX_MANIFEST_ENTRIES) {
    return jsonError(c, 413, "too_many_files", `Register at most ${MAX_MANIFEST_ENTRIES} files per request.`);
  }
  const registered = await c.env.TEAMS.getByName(c.get("team")).registerFiles(workspace, entries);
  return c.json({ workspace, registered });
});
