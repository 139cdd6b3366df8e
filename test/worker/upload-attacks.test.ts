/**
 * Attacks on uploads and blob serving, each performed against the real worker, Durable Objects
 * and KV, and shown to fail: quota and size bypasses, content swapped while completing, images
 * read whole before their limits, unbounded JSON bodies, hostile media types, and storage
 * created by probing.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { STALE_UPLOAD_MS } from "../../src/durable/blob";
import { MAX_MANIFEST_BYTES } from "../../src/core/rpc/team";
import { STREAM_PART_BYTES, blobStub } from "../../src/files/blob-store";
import { loadImages } from "../../src/files/images";
import { ToolError } from "../../src/core/errors.ts";
import { callWorker, connectClient, testEnv } from "./helpers";
import { mockUpstream } from "./upstream-mock";

const MIB = 1024 * 1024;
/** Multipart parts of R2's smallest size (BLOB_PART_MIB's least). */
const PART = 5 * MIB;

async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const digest = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function bytesOf(length: number, seed = 0): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 31 + seed) % 251);
}

/** A team of its own (so other tests' uploads never count against its quota), with its env and usage. */
async function asTeam(team: string, vars: Record<string, string> = {}) {
  const workerEnv = testEnv({ TEAM_TOKENS: JSON.stringify({ [await sha256Hex(team)]: team }), ...vars });
  const call = (path: string, init: RequestInit = {}) =>
    callWorker(
      new Request(`http://localhost${path}`, { ...init, headers: { authorization: `Bearer ${team}`, ...(init.headers as Record<string, string>) } }),
      workerEnv,
    );
  const json = (path: string, body: unknown, method = "POST") =>
    call(path, { method, body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  return {
    team,
    workerEnv,
    call,
    json,
    usage: () => workerEnv.TEAMS.getByName(team).quotaUsage(),
    stub: (sha256: string) => blobStub(workerEnv, team, sha256),
  };
}

/** A request body the test feeds piece by piece, so an upload can be held open mid-stream. */
function heldBody() {
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  return {
    stream,
    push: (bytes: Uint8Array) => controller?.enqueue(bytes),
    close: () => controller?.close(),
    fail: () => controller?.error(new Error("the client hung up")),
  };
}

/** Waits (a bounded number of turns) until the condition holds; fails the test otherwise. */
async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let turn = 0; turn < 500; turn++) {
    if (await condition()) return;
    await scheduler.wait(10);
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function errorOf(response: Response): Promise<{ error: string; message: string }> {
  return (await response.json()) as { error: string; message: string };
}

/** The names of an object's tables: none means it holds no storage. */
async function tablesOf(stub: DurableObjectStub): Promise<string[]> {
  return runInDurableObject(stub, (_, state) =>
    state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .toArray()
      .map((row) => row.name),
  );
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("quota and size: reserved before any byte is stored", () => {
  it("a multipart upload declaring 0 bytes at a full quota stores nothing: parts past the declared size are refused", async () => {
    const t = await asTeam("zero-size", { TEAM_BLOB_QUOTA_BYTES: String(2 * MIB), BLOB_PART_MIB: "5" });
    const filler = bytesOf(2 * MIB);
    expect((await t.call(`/v1/blobs/${await sha256Hex(filler)}`, { method: "PUT", body: filler })).status).toBe(201);
    expect(await t.usage()).toEqual({ storedBytes: 2 * MIB, reservedBytes: 0, manifestBytes: 0 });

    const payload = bytesOf(MIB, 7);
    const sha = await sha256Hex(payload);
    const begin = await t.json(`/v1/blobs/${sha}/uploads`, { size: 0 });
    expect(begin.status).toBe(201);
    const { uploadId } = (await begin.json()) as { uploadId: string };
    const part = await t.call(`/v1/blobs/${sha}/uploads/${uploadId}/parts/1`, { method: "PUT", body: payload });
    expect(part.status).toBe(413);
    expect((await errorOf(part)).error).toBe("part_out_of_range");
    const complete = await t.json(`/v1/blobs/${sha}/uploads/${uploadId}/complete`, {});
    expect(complete.status).toBe(400);
    expect((await errorOf(complete)).error).toBe("hash_mismatch");
    expect((await t.call(`/v1/blobs/${sha}`, { method: "HEAD" })).status).toBe(404);
    expect(await t.usage()).toEqual({ storedBytes: 2 * MIB, reservedBytes: 0, manifestBytes: 0 });
  });

  it("a multipart total over the declared size is refused with 413; the right parts still complete, counted exactly", async () => {
    const t = await asTeam("declared-size", { TEAM_BLOB_QUOTA_BYTES: String(16 * MIB), BLOB_PART_MIB: "5" });
    const content = bytesOf(PART + PART / 2, 3);
    const sha = await sha256Hex(content);
    const begin = await t.json(`/v1/blobs/${sha}/uploads`, { size: content.length, mediaType: "application/octet-stream" });
    const { uploadId } = (await begin.json()) as { uploadId: string };
    expect(await t.usage()).toEqual({ storedBytes: 0, reservedBytes: content.length, manifestBytes: 0 });
    const put = (part: number, body: Uint8Array) => t.call(`/v1/blobs/${sha}/uploads/${uploadId}/parts/${part}`, { method: "PUT", body });

    const oversized = await put(2, bytesOf(PART));
    expect(oversized.status).toBe(413);
    expect((await errorOf(oversized)).error).toBe("part_too_large");
    const beyond = await put(3, bytesOf(10));
    expect(beyond.status).toBe(413);
    expect((await errorOf(beyond)).error).toBe("part_out_of_range");
    // Streamed without a Content-Length, a part longer than its place is cut off at its size.
    const held = heldBody();
    const streamed = t.call(`/v1/blobs/${sha}/uploads/${uploadId}/parts/2`, { method: "PUT", body: held.stream });
    held.push(bytesOf(PART / 2 + 1));
    held.close();
    expect((await errorOf(await streamed)).error).toBe("part_too_large");
    // A part shorter than its place would leave a hole in the file: refused, nothing recorded.
    const short = await put(1, content.slice(0, PART - 1));
    expect(short.status).toBe(400);
    expect((await errorOf(short)).error).toBe("broken_body");

    expect((await put(1, content.slice(0, PART))).status).toBe(200);
    expect((await put(2, content.slice(PART))).status).toBe(200);
    const complete = await t.json(`/v1/blobs/${sha}/uploads/${uploadId}/complete`, {});
    expect(complete.status).toBe(201);
    expect(await t.usage()).toEqual({ storedBytes: content.length, reservedBytes: 0, manifestBytes: 0 });
  });

  it("the blob's object itself refuses a part that is not the size its number takes, whoever sends it", async () => {
    const t = await asTeam("object-bounds", { BLOB_PART_MIB: "5" });
    const sha = await sha256Hex("bounds");
    const { uploadId } = (await (await t.json(`/v1/blobs/${sha}/uploads`, { size: 100 })).json()) as { uploadId: string };
    expect(await t.stub(sha).recordPart(uploadId, 1, "etag", 101, PART)).toBe("beyond_size");
    expect(await t.stub(sha).recordPart(uploadId, 1, "etag", 99, PART)).toBe("beyond_size");
    expect(await t.stub(sha).recordPart(uploadId, 2, "etag", 1, PART)).toBe("beyond_size");
    expect(await t.stub(sha).recordPart(uploadId, 1, "etag", 100, PART)).toBe("stored");
  });

  it("parallel multipart uploads cannot each take the whole room: the reservations add up", async () => {
    const t = await asTeam("parallel-multipart", { TEAM_BLOB_QUOTA_BYTES: String(3 * MIB) });
    const hashes = await Promise.all([1, 2, 3].map((i) => sha256Hex(`file ${i}`)));
    const begins = await Promise.all(hashes.map((sha) => t.json(`/v1/blobs/${sha}/uploads`, { size: 2 * MIB })));
    expect(begins.map((r) => r.status).sort()).toEqual([201, 413, 413]);
    const refused = await errorOf(begins.find((r) => r.status === 413)!);
    expect(refused.error).toBe("quota_exceeded");
    expect(refused.message).toContain(`${2 * MIB} reserved by uploads in progress`);
    expect(await t.usage()).toEqual({ storedBytes: 0, reservedBytes: 2 * MIB, manifestBytes: 0 });
  });

  it("a single PUT reserves its Content-Length before streaming: a parallel PUT is refused while it is in progress", async () => {
    const t = await asTeam("parallel-put", { TEAM_BLOB_QUOTA_BYTES: "3000" });
    const first = bytesOf(2000, 1);
    const held = heldBody();
    const pending = t.call(`/v1/blobs/${await sha256Hex(first)}`, { method: "PUT", body: held.stream, headers: { "content-length": "2000" } });
    await until(async () => (await t.usage()).reservedBytes === 2000, "the first upload's reservation");

    const second = bytesOf(2000, 2);
    const refused = await t.call(`/v1/blobs/${await sha256Hex(second)}`, { method: "PUT", body: second });
    expect(refused.status).toBe(413);
    expect((await errorOf(refused)).error).toBe("quota_exceeded");

    held.push(first.slice(0, 1000));
    held.push(first.slice(1000));
    held.close();
    expect((await pending).status).toBe(201);
    expect(await t.usage()).toEqual({ storedBytes: 2000, reservedBytes: 0, manifestBytes: 0 });
  });

  it("a PUT of unknown length grows its reservation as bytes arrive and is refused when the room is gone", async () => {
    const t = await asTeam("growing-put", { TEAM_BLOB_QUOTA_BYTES: "3000" });
    const held = heldBody();
    const pending = t.call(`/v1/blobs/${await sha256Hex(bytesOf(4000))}`, { method: "PUT", body: held.stream });
    held.push(bytesOf(2500));
    await until(async () => (await t.usage()).reservedBytes >= 2500, "the reservation to cover the first bytes");
    expect((await t.usage()).reservedBytes).toBeLessThanOrEqual(3000);
    held.push(bytesOf(1500));
    const response = await pending;
    expect(response.status).toBe(413);
    expect((await errorOf(response)).error).toBe("quota_exceeded");
    expect(await t.usage()).toEqual({ storedBytes: 0, reservedBytes: 0, manifestBytes: 0 });
  });

  it("a PUT of unknown length is counted at exactly its committed size", async () => {
    const t = await asTeam("exact-count");
    const content = bytesOf(1500);
    const held = heldBody();
    const pending = t.call(`/v1/blobs/${await sha256Hex(content)}`, { method: "PUT", body: held.stream });
    held.push(content);
    held.close();
    expect((await pending).status).toBe(201);
    expect(await t.usage()).toEqual({ storedBytes: 1500, reservedBytes: 0, manifestBytes: 0 });
  });

  it("releases the reservation when the hash does not match, when the body breaks off, and when a multipart hash fails", async () => {
    const t = await asTeam("releases", { TEAM_BLOB_QUOTA_BYTES: String(4 * MIB), BLOB_PART_MIB: "5" });
    const wrongHash = await sha256Hex("not this");
    const mismatch = await t.call(`/v1/blobs/${wrongHash}`, { method: "PUT", body: bytesOf(3000) });
    expect(mismatch.status).toBe(400);
    expect(await t.usage()).toEqual({ storedBytes: 0, reservedBytes: 0, manifestBytes: 0 });

    const held = heldBody();
    const broken = t.call(`/v1/blobs/${wrongHash}`, { method: "PUT", body: held.stream, headers: { "content-length": "3000" } });
    held.push(bytesOf(1000));
    await until(async () => (await t.usage()).reservedBytes === 3000, "the reservation");
    held.fail();
    const brokenResponse = await broken;
    expect(brokenResponse.status).toBe(400);
    expect((await errorOf(brokenResponse)).error).toBe("broken_body");
    expect(await t.usage()).toEqual({ storedBytes: 0, reservedBytes: 0, manifestBytes: 0 });

    const { uploadId } = (await (await t.json(`/v1/blobs/${wrongHash}/uploads`, { size: 10 })).json()) as { uploadId: string };
    expect(await t.usage()).toEqual({ storedBytes: 0, reservedBytes: 10, manifestBytes: 0 });
    await t.call(`/v1/blobs/${wrongHash}/uploads/${uploadId}/parts/1`, { method: "PUT", body: bytesOf(10) });
    expect((await t.json(`/v1/blobs/${wrongHash}/uploads/${uploadId}/complete`, {})).status).toBe(400);
    expect(await t.usage()).toEqual({ storedBytes: 0, reservedBytes: 0, manifestBytes: 0 });
  });

  it("an abandoned upload is removed by the blob's alarm and gives its reservation back; a live one is kept", async () => {
    const t = await asTeam("stale", { TEAM_BLOB_QUOTA_BYTES: String(3 * PART), BLOB_PART_MIB: "5" });
    const content = bytesOf(2 * PART, 5);
    const sha = await sha256Hex(content);
    const { uploadId } = (await (await t.json(`/v1/blobs/${sha}/uploads`, { size: content.length })).json()) as { uploadId: string };
    expect((await t.call(`/v1/blobs/${sha}/uploads/${uploadId}/parts/1`, { method: "PUT", body: content.slice(0, PART) })).status).toBe(200);
    const stub = t.stub(sha);
    const upload = await stub.upload(uploadId);
    expect(upload?.multipartId).not.toBe("");
    expect(await runInDurableObject(stub, (_, state) => state.storage.getAlarm())).not.toBeNull();

    // The alarm of an upload touched within the hour leaves it alone.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.upload(uploadId)).not.toBeNull();
    expect(await t.usage()).toEqual({ storedBytes: 0, reservedBytes: content.length, manifestBytes: 0 });
    expect((await t.json(`/v1/blobs/${await sha256Hex("other")}/uploads`, { size: 2 * PART })).status).toBe(413);

    // An hour and a bit later, untouched:
    await runInDurableObject(stub, (_, state) => {
      state.storage.sql.exec("UPDATE meta SET touched_at = ?", Date.now() - STALE_UPLOAD_MS - 60_000);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await t.usage()).toEqual({ storedBytes: 0, reservedBytes: 0, manifestBytes: 0 });
    expect(await tablesOf(stub)).toEqual([]);
    // Its R2 multipart upload was aborted with it: no part can be added to it any more.
    const aborted = t.workerEnv.BLOB_BUCKET.resumeMultipartUpload(upload!.key, upload!.multipartId);
    await expect(aborted.uploadPart(2, content.slice(PART))).rejects.toThrow();
    const late = await t.call(`/v1/blobs/${sha}/uploads/${uploadId}/parts/2`, { method: "PUT", body: content.slice(PART) });
    expect(late.status).toBe(404);
    expect((await t.json(`/v1/blobs/${await sha256Hex("other")}/uploads`, { size: 2 * PART })).status).toBe(201);
  });
});

describe("manifests: counted against the quota, and capped", () => {
  /** A manifest of `count` paths of `length` characters each (all one hash), numbered from `from`. */
  function manifest(prefix: string, count: number, length: number, from = 0): Record<string, string> {
    const files: Record<string, string> = {};
    for (let i = from; i < from + count; i++) files[`${prefix}${String(i).padStart(length - prefix.length, "0")}`] = "a".repeat(64);
    return files;
  }

  it("attack: manifest entries count against the team's quota, together with its blobs", async () => {
    const t = await asTeam("manifest-quota", { TEAM_BLOB_QUOTA_BYTES: "4096" });
    // Each entry counts its workspace, path and hash: 7 + 12 + 64 bytes.
    expect((await t.json("/v1/workspaces/default/manifest", { files: manifest("/p/f", 10, 12) }, "PUT")).status).toBe(200);
    expect(await t.usage()).toEqual({ storedBytes: 0, reservedBytes: 0, manifestBytes: 830 });
    const tooBig = bytesOf(3_300);
    const refused = await t.call(`/v1/blobs/${await sha256Hex(tooBig)}`, { method: "PUT", body: tooBig });
    expect(refused.status).toBe(413);
    expect((await errorOf(refused)).message).toContain("830 in workspace manifests");
    const fits = bytesOf(3_200);
    expect((await t.call(`/v1/blobs/${await sha256Hex(fits)}`, { method: "PUT", body: fits })).status).toBe(201);
    const more = await t.json("/v1/workspaces/default/manifest", { files: manifest("/p/f", 1, 12, 10) }, "PUT");
    expect(more.status).toBe(413);
    expect(await errorOf(more)).toMatchObject({ error: "quota_exceeded", message: expect.stringContaining("Registering these files would pass") });
    // Registering a path again adds nothing.
    expect((await t.json("/v1/workspaces/default/manifest", { files: manifest("/p/f", 10, 12) }, "PUT")).status).toBe(200);
    expect(await t.usage()).toEqual({ storedBytes: 3_200, reservedBytes: 0, manifestBytes: 830 });
  });

  it("attack: five 8 MiB manifests leave the team's manifests at their cap, the oldest entries let go", async () => {
    const t = await asTeam("manifest-flood");
    // 20,000 entries of 340-character paths: just under the 8 MiB a manifest request may hold.
    const batches = Array.from({ length: 5 }, (_, batch) => manifest(`/flood/${batch}/`, 20_000, 340));
    for (const files of batches) expect((await t.json("/v1/workspaces/default/manifest", { files }, "PUT")).status).toBe(200);
    const { manifestBytes } = await t.usage();
    expect(manifestBytes).toBeLessThanOrEqual(MAX_MANIFEST_BYTES);
    expect(manifestBytes).toBeGreaterThan(MAX_MANIFEST_BYTES - 411);
    const team = t.workerEnv.TEAMS.getByName(t.team);
    const firstPaths = Object.keys(batches[0] ?? {}).slice(0, 100);
    const lastPaths = Object.keys(batches[4] ?? {}).slice(0, 100);
    expect(await team.lookupFiles("default", firstPaths)).toEqual([]);
    expect(await team.lookupFiles("default", lastPaths)).toHaveLength(100);
    const databaseBytes = await runInDurableObject(team, (_, state) => state.storage.sql.databaseSize);
    expect(databaseBytes).toBeLessThan(3 * MAX_MANIFEST_BYTES);
  }, 120_000);
});

describe("completion: sealed, then hashed, then committed as hashed", () => {
  async function uploadParts(t: Awaited<ReturnType<typeof asTeam>>, content: Uint8Array) {
    const sha = await sha256Hex(content);
    const { uploadId } = (await (await t.json(`/v1/blobs/${sha}/uploads`, { size: content.length })).json()) as { uploadId: string };
    for (let part = 1; (part - 1) * PART < content.length; part++) {
      const slice = content.slice((part - 1) * PART, part * PART);
      expect((await t.call(`/v1/blobs/${sha}/uploads/${uploadId}/parts/${part}`, { method: "PUT", body: slice })).status).toBe(200);
    }
    return { sha, uploadId };
  }

  it("no part is accepted once completion has sealed the upload, so the stored content is what was hashed", async () => {
    const t = await asTeam("sealed", { BLOB_PART_MIB: "5" });
    const content = bytesOf(2 * PART, 9);
    const { sha, uploadId } = await uploadParts(t, content);
    // Completion's first step; the attacker then tries to swap part 2 while the object is hashed.
    expect((await t.stub(sha).seal(uploadId, PART)).status).toBe("sealed");
    const swap = await t.call(`/v1/blobs/${sha}/uploads/${uploadId}/parts/2`, { method: "PUT", body: bytesOf(PART, 66) });
    expect(swap.status).toBe(409);
    expect((await errorOf(swap)).error).toBe("upload_sealed");
    expect(await t.stub(sha).recordPart(uploadId, 2, "etag", PART, PART)).toBe("sealed");

    expect((await t.json(`/v1/blobs/${sha}/uploads/${uploadId}/complete`, {})).status).toBe(201);
    const back = new Uint8Array(await (await t.call(`/v1/blobs/${sha}`)).arrayBuffer());
    expect(await sha256Hex(back)).toBe(sha);
  });

  it("the blob's object refuses a commit whose size is not the size the upload declared", async () => {
    const t = await asTeam("commit-check", { BLOB_PART_MIB: "5" });
    const content = bytesOf(PART + 10, 4);
    const { sha, uploadId } = await uploadParts(t, content);
    const sealed = await t.stub(sha).seal(uploadId, PART);
    expect(sealed.status === "sealed" && sealed.parts.map((part) => part.partNumber)).toEqual([1, 2]);
    const facts = { size: content.length, lines: 0, tokens: 0, text: false, mediaType: "application/octet-stream" };
    expect(await t.stub(sha).commit(uploadId, { ...facts, size: content.length + 1 })).toMatchObject({ status: "mismatch" });
    expect(await t.stub(sha).commit(uploadId, { ...facts, size: content.length - 1 })).toMatchObject({ status: "mismatch" });
    expect((await t.call(`/v1/blobs/${sha}`, { method: "HEAD" })).status).toBe(404);
    expect(await t.stub(sha).commit(uploadId, facts)).toMatchObject({ status: "committed" });
  });

  it("completing with a part missing stores nothing and leaves the upload open for it", async () => {
    const t = await asTeam("missing-part", { BLOB_PART_MIB: "5" });
    const content = bytesOf(2 * PART, 2);
    const sha = await sha256Hex(content);
    const { uploadId } = (await (await t.json(`/v1/blobs/${sha}/uploads`, { size: content.length })).json()) as { uploadId: string };
    await t.call(`/v1/blobs/${sha}/uploads/${uploadId}/parts/2`, { method: "PUT", body: content.slice(PART) });
    const early = await t.json(`/v1/blobs/${sha}/uploads/${uploadId}/complete`, {});
    expect(early.status).toBe(400);
    expect((await errorOf(early)).error).toBe("missing_parts");
    expect((await t.call(`/v1/blobs/${sha}/uploads/${uploadId}/parts/1`, { method: "PUT", body: content.slice(0, PART) })).status).toBe(200);
    expect((await t.json(`/v1/blobs/${sha}/uploads/${uploadId}/complete`, {})).status).toBe(201);
  });
});

describe("R2: each upload writes its own object, and only a verified one stays", () => {
  /** The R2 objects under a team's hash: every upload's key starts with it. */
  async function objectsOf(t: Awaited<ReturnType<typeof asTeam>>, sha: string): Promise<string[]> {
    return (await t.workerEnv.BLOB_BUCKET.list({ prefix: `${t.team}/${sha}/` })).objects.map((object) => object.key);
  }

  it("attack: a mismatching upload of the same hash, begun while the good one streams, neither keeps its bytes nor touches the good ones", async () => {
    const t = await asTeam("same-hash");
    const good = bytesOf(3000, 1);
    const sha = await sha256Hex(good);
    const held = heldBody();
    const first = t.call(`/v1/blobs/${sha}`, { method: "PUT", body: held.stream, headers: { "content-length": "3000" } });
    held.push(good.slice(0, 1000));
    await until(async () => (await t.usage()).reservedBytes === 3000, "the first upload's reservation");

    // A second upload of the same hash supersedes the first, and fails its hash: nothing of it stays.
    const forged = await t.call(`/v1/blobs/${sha}`, { method: "PUT", body: bytesOf(3000, 2) });
    expect((await errorOf(forged)).error).toBe("hash_mismatch");
    held.push(good.slice(1000));
    held.close();
    const superseded = await first;
    expect(superseded.status).toBe(409);
    expect(await objectsOf(t, sha)).toEqual([]);
    expect(await t.usage()).toEqual({ storedBytes: 0, reservedBytes: 0, manifestBytes: 0 });

    // The good upload, then a forged one: the committed blob is answered, its bytes untouched.
    expect((await t.call(`/v1/blobs/${sha}`, { method: "PUT", body: good })).status).toBe(201);
    const stored = await objectsOf(t, sha);
    expect(stored).toHaveLength(1);
    expect((await t.call(`/v1/blobs/${sha}`, { method: "PUT", body: bytesOf(3000, 3) })).status).toBe(200);
    const begin = await t.json(`/v1/blobs/${sha}/uploads`, { size: 3000 });
    expect(((await begin.json()) as { uploadId: string | null }).uploadId).toBeNull();
    expect(await objectsOf(t, sha)).toEqual(stored);
    expect(new Uint8Array(await (await t.call(`/v1/blobs/${sha}`)).arrayBuffer())).toEqual(good);
    expect(await t.usage()).toEqual({ storedBytes: 3000, reservedBytes: 0, manifestBytes: 0 });
  });

  it("a PUT of unknown length past one buffered part goes up as an R2 multipart upload, read back whole", async () => {
    const t = await asTeam("unknown-length-parts");
    const content = bytesOf(STREAM_PART_BYTES * 2 + 123, 8);
    const sha = await sha256Hex(content);
    const held = heldBody();
    const pending = t.call(`/v1/blobs/${sha}`, { method: "PUT", body: held.stream });
    for (let offset = 0; offset < content.length; offset += MIB) held.push(content.slice(offset, offset + MIB));
    held.close();
    expect((await pending).status).toBe(201);
    const [key] = await objectsOf(t, sha);
    expect((await t.workerEnv.BLOB_BUCKET.head(key!))?.size).toBe(content.length);
    expect(new Uint8Array(await (await t.call(`/v1/blobs/${sha}`)).arrayBuffer())).toEqual(content);
    expect(await t.usage()).toEqual({ storedBytes: content.length, reservedBytes: 0, manifestBytes: 0 });
  });

  it("a failed upload leaves no object: a body that breaks off, a hash mismatch, a multipart upload whose hash fails", async () => {
    const t = await asTeam("no-leftovers", { BLOB_PART_MIB: "5" });
    const sha = await sha256Hex("expected");
    const held = heldBody();
    const broken = t.call(`/v1/blobs/${sha}`, { method: "PUT", body: held.stream, headers: { "content-length": "3000" } });
    held.push(bytesOf(1000));
    await until(async () => (await t.usage()).reservedBytes === 3000, "the reservation");
    held.fail();
    expect((await broken).status).toBe(400);
    expect((await t.call(`/v1/blobs/${sha}`, { method: "PUT", body: bytesOf(STREAM_PART_BYTES + 1) })).status).toBe(400);
    const content = bytesOf(PART + 1, 4);
    const { uploadId } = (await (await t.json(`/v1/blobs/${sha}/uploads`, { size: content.length })).json()) as { uploadId: string };
    await t.call(`/v1/blobs/${sha}/uploads/${uploadId}/parts/1`, { method: "PUT", body: content.slice(0, PART) });
    await t.call(`/v1/blobs/${sha}/uploads/${uploadId}/parts/2`, { method: "PUT", body: content.slice(PART) });
    expect((await errorOf(await t.json(`/v1/blobs/${sha}/uploads/${uploadId}/complete`, {}))).error).toBe("hash_mismatch");
    expect(await objectsOf(t, sha)).toEqual([]);
    expect(await t.usage()).toEqual({ storedBytes: 0, reservedBytes: 0, manifestBytes: 0 });
  });
});

describe("images: limits checked before any byte is read", () => {
  const GEMINI = { GEMINI_API_KEY: "k", GEMINI_BASE_URL: "https://gemini.test" };
  const PNG_HEADER = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

  async function chatWithImages(t: Awaited<ReturnType<typeof asTeam>>, images: string[], model = "flash") {
    const client = await connectClient(t.workerEnv, { authorization: `Bearer ${t.team}` });
    const result = await client.callTool({ name: "chat", arguments: { prompt: "what is this", model, images } });
    await client.close();
    return { isError: result.isError === true, text: (result.content as Array<{ text: string }>)[0]?.text ?? "" };
  }

  /** Deletes a blob's R2 object, leaving its facts: any read of its bytes would now fail. */
  async function deleteBytes(t: Awaited<ReturnType<typeof asTeam>>, sha: string) {
    const info = await t.stub(sha).info();
    expect(info?.key).toMatch(new RegExp(`/${sha}/`));
    await t.workerEnv.BLOB_BUCKET.delete(info!.key);
  }

  async function register(t: Awaited<ReturnType<typeof asTeam>>, files: Record<string, string>) {
    expect((await t.json("/v1/workspaces/default/manifest", { files }, "PUT")).status).toBe(200);
  }

  it("an image blob over 20 MB is refused from its stored size, without reading a byte", async () => {
    const sent = mockUpstream();
    const t = await asTeam("big-image", GEMINI);
    const image = bytesOf(21 * MIB);
    image.set(PNG_HEADER);
    const sha = await sha256Hex(image);
    expect((await t.call(`/v1/blobs/${sha}`, { method: "PUT", body: image, headers: { "content-type": "image/png" } })).status).toBe(201);
    await register(t, { "/shots/huge.png": sha });
    // Any read of the blob would now fail: only its stored facts can be used.
    await deleteBytes(t, sha);

    const result = await chatWithImages(t, ["/shots/huge.png"]);
    expect(result.isError).toBe(true);
    expect(result.text).toContain("'/shots/huge.png' is 21.0 MB; each image may be at most 20 MB");
    expect(sent).toHaveLength(0);
  });

  /** Uploads a PNG of `bytes` bytes under `path`, then deletes its bytes in R2: any read of it would now fail. */
  async function unreadableImage(t: Awaited<ReturnType<typeof asTeam>>, path: string, bytes: number, seed: number): Promise<void> {
    const image = bytesOf(bytes, seed);
    image.set(PNG_HEADER);
    const sha = await sha256Hex(image);
    expect((await t.call(`/v1/blobs/${sha}`, { method: "PUT", body: image, headers: { "content-type": "image/png" } })).status).toBe(201);
    await register(t, { [path]: sha });
    await deleteBytes(t, sha);
  }

  it("attack: two 19.9 MB images under the per-image limit are refused from their stored sizes, without reading a byte", async () => {
    const sent = mockUpstream();
    const t = await asTeam("two-large-images", GEMINI);
    await unreadableImage(t, "/shots/a.png", Math.round(19.9 * MIB), 1);
    await unreadableImage(t, "/shots/b.png", Math.round(19.9 * MIB), 2);
    const result = await chatWithImages(t, ["/shots/a.png", "/shots/b.png"]);
    expect(result.isError).toBe(true);
    expect(result.text).toContain("The images total 39.8 MB; at most 20.0 MB can be sent with one request");
    expect(sent).toHaveLength(0);
  });

  it("attack: images the chosen model refuses for their size are never read", async () => {
    const sent = mockUpstream();
    const t = await asTeam("model-image-cap", { OPENROUTER_API_KEY: "k", OPENROUTER_BASE_URL: "https://openrouter.test/api/v1" });
    await unreadableImage(t, "/shots/c.png", 3 * MIB, 3);
    await unreadableImage(t, "/shots/d.png", 3 * MIB, 4);
    const result = await chatWithImages(t, ["/shots/c.png", "/shots/d.png"], "sonnet");
    expect(result.isError).toBe(true);
    expect(result.text).toContain("The images total 6.0 MB; anthropic/claude-sonnet-4.5 accepts at most 5 MB per request");
    expect(sent).toHaveLength(0);
  });

  it("an image the model accepts is read and sent whole", async () => {
    const sent = mockUpstream();
    const t = await asTeam("image-sent", GEMINI);
    // Over one MiB, and not a multiple of three bytes: encoded across the pieces R2 streams.
    const image = bytesOf(MIB + 7, 5);
    image.set(PNG_HEADER);
    const sha = await sha256Hex(image);
    await t.call(`/v1/blobs/${sha}`, { method: "PUT", body: image, headers: { "content-type": "image/png" } });
    await register(t, { "/shots/e.png": sha });
    const result = await chatWithImages(t, ["/shots/e.png"]);
    expect(result.isError).toBe(false);
    const parts = (sent[0]?.body["contents"] as Array<{ parts: Array<{ inlineData?: { data: string } }> }>)[0]?.parts ?? [];
    const data = parts.find((part) => part.inlineData)?.inlineData?.data ?? "";
    expect(Uint8Array.from(atob(data), (char) => char.charCodeAt(0))).toEqual(image);
  });

  it("an image blob of another media type is refused by name", async () => {
    mockUpstream();
    const t = await asTeam("svg-image", GEMINI);
    const svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>';
    const sha = await sha256Hex(svg);
    await t.call(`/v1/blobs/${sha}`, { method: "PUT", body: svg, headers: { "content-type": "image/svg+xml" } });
    const text = await sha256Hex("just text");
    await t.call(`/v1/blobs/${text}`, { method: "PUT", body: "just text", headers: { "content-type": "text/plain" } });
    await register(t, { "/shots/a.svg": sha, "/shots/b.png": text });
    const svgResult = await chatWithImages(t, ["/shots/a.svg"]);
    expect(svgResult.isError).toBe(true);
    expect(svgResult.text).toContain("'/shots/a.svg' is not an image (image/svg+xml): send images as PNG, JPEG, GIF or WebP");
    const textResult = await chatWithImages(t, ["/shots/b.png"]);
    expect(textResult.text).toContain("'/shots/b.png' is not an image (text/plain)");
  });

  it("more than 5 images are refused before any is looked up", async () => {
    mockUpstream();
    const t = await asTeam("many-images", GEMINI);
    const result = await chatWithImages(t, Array.from({ length: 6 }, (_, i) => `/shots/${i}.png`));
    expect(result.isError).toBe(true);
    expect(result.text).toContain("At most 5 images can be sent with one request; got 6");
  });

  it("data URLs are checked by type and by base64 length before decoding, and together", async () => {
    const t = await asTeam("data-urls");
    const scope = { env: t.workerEnv, team: t.team, workspace: "default", waitUntil: () => undefined };
    const huge = `data:image/png;base64,${"A".repeat(28 * MIB)}`;
    await expect(loadImages(scope, [huge])).rejects.toThrow(ToolError);
    await expect(loadImages(scope, [huge])).rejects.toThrow("each image may be at most 20 MB");
    await expect(loadImages(scope, ["data:image/svg+xml;base64,PHN2Zz4="])).rejects.toThrow("send images as PNG, JPEG, GIF or WebP");
    await expect(loadImages(scope, ["data:text/html,<script>"])).rejects.toThrow("is not a base64 data URL");
    const fifteen = `data:image/png;base64,${"A".repeat(20 * MIB)}`;
    await expect(loadImages(scope, [fifteen, fifteen])).rejects.toThrow("at most 20.0 MB can be sent with one request");
    const small = await loadImages(scope, ["data:image/PNG;base64,iVBO Rw0K"]);
    expect(small.inputs).toMatchObject([{ mediaType: "image/png", bytes: 6 }]);
    expect(await small.inputs[0]?.read()).toBe("iVBORw0K");
  });
});

describe("JSON routes: bounded bodies", () => {
  it("refuses oversized manifest, multipart begin and complete, and presence bodies with a JSON 413", async () => {
    const t = await asTeam("body-limits");
    const sha = await sha256Hex("body limits");
    const cases: Array<[string, string, number]> = [
      ["/v1/workspaces/default/manifest", "PUT", 8 * MIB + 1],
      [`/v1/blobs/${sha}/uploads`, "POST", 64 * 1024 + 1],
      [`/v1/blobs/${sha}/uploads/some-upload/complete`, "POST", 64 * 1024 + 1],
      ["/v1/blobs/missing", "POST", 128 * 1024 + 1],
    ];
    for (const [path, method, size] of cases) {
      const body = `{"padding": "${"x".repeat(size)}"}`;
      const response = await t.call(path, { method, body, headers: { "content-type": "application/json" } });
      expect(response.status, path).toBe(413);
      const error = await errorOf(response);
      expect(error.error).toBe("payload_too_large");
      expect(error.message).toMatch(/^The request body is over \d+ bytes/);
    }
  });

  it("still takes a presence check of 1,000 hashes", async () => {
    const t = await asTeam("presence");
    const hashes = await Promise.all(Array.from({ length: 1_000 }, (_, i) => sha256Hex(`absent ${i}`)));
    const response = await t.json("/v1/blobs/missing", { sha256: hashes });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { missing: string[] }).missing).toHaveLength(1_000);
  });
});

describe("media types: validated on upload, never trusted when served", () => {
  it("refuses malformed or overlong media types on PUT, multipart begin and complete", async () => {
    const t = await asTeam("media-types");
    const content = "some content";
    const sha = await sha256Hex(content);
    for (const type of ["text/html<script>", "not a type", "text/", `text/${"x".repeat(200)}`, "../etc/passwd"]) {
      const response = await t.call(`/v1/blobs/${sha}`, { method: "PUT", body: content, headers: { "content-type": type } });
      expect(response.status, type).toBe(400);
      expect((await errorOf(response)).error).toBe("bad_media_type");
    }
    const begin = await t.json(`/v1/blobs/${sha}/uploads`, { size: content.length, mediaType: "text/html\r\nx-evil: 1" });
    expect(begin.status).toBe(400);
    const { uploadId } = (await (await t.json(`/v1/blobs/${sha}/uploads`, { size: content.length })).json()) as { uploadId: string };
    const complete = await t.json(`/v1/blobs/${sha}/uploads/${uploadId}/complete`, { mediaType: "x".repeat(300) });
    expect(complete.status).toBe(400);
    expect((await t.call(`/v1/blobs/${sha}`, { method: "HEAD" })).status).toBe(404);

    const ok = await t.call(`/v1/blobs/${sha}`, { method: "PUT", body: content, headers: { "content-type": "Text/Markdown; charset=utf-8" } });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { mediaType: string }).mediaType).toBe("text/markdown");
  });

  it("serves a blob declared as HTML as a download that is never sniffed", async () => {
    const t = await asTeam("served");
    const html = "<html><script>document.cookie</script></html>";
    const sha = await sha256Hex(html);
    await t.call(`/v1/blobs/${sha}`, { method: "PUT", body: html, headers: { "content-type": "text/html" } });
    for (const method of ["GET", "HEAD"]) {
      const response = await t.call(`/v1/blobs/${sha}`, { method });
      expect(response.status).toBe(200);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("content-disposition")).toBe("attachment");
      await response.body?.cancel();
    }
  });
});

describe("probing unknown hashes creates no storage", () => {
  // Locally every object that was ever addressed has a database file (listDurableObjectIds lists
  // it), so what is checked is what a lookup writes: no table, no alarm.
  it("100 HEAD, GET and presence checks of hashes never uploaded leave every probed object without storage", async () => {
    const t = await asTeam("prober");
    const hashes = await Promise.all(Array.from({ length: 100 }, (_, i) => sha256Hex(`probe ${i}`)));
    for (const sha of hashes) {
      expect((await t.call(`/v1/blobs/${sha}`, { method: "HEAD" })).status).toBe(404);
      expect((await t.call(`/v1/blobs/${sha}`)).status).toBe(404);
    }
    expect(((await (await t.json("/v1/blobs/missing", { sha256: hashes })).json()) as { missing: string[] }).missing).toHaveLength(100);
    for (const sha of hashes) {
      expect(await tablesOf(t.stub(sha))).toEqual([]);
      expect(await runInDurableObject(t.stub(sha), (_, state) => state.storage.getAlarm())).toBeNull();
    }
  });
});
