/**
 * Blob expiry: a blob no manifest names and no thread has read for BLOB_TTL_DAYS is deleted (its
 * R2 object, its facts, its cached facts) and gives its bytes back to the team's quota. Time is
 * moved through the objects' state (when the blob was last referenced, when a thread read it),
 * and the alarm is run directly: nothing waits.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BLOB_FACTS_CACHE } from "../../src/core/rpc/blob";
import { blobStub } from "../../src/files/blob-store";
import { callWorker, connectClient, deferredWorkDone, testEnv } from "./helpers";
import { mockUpstream, promptOf } from "./upstream-mock";

const DAY_MS = 24 * 3_600_000;
/** wrangler.toml's BLOB_TTL_DAYS and CONVERSATION_TIMEOUT_HOURS, which the objects read. */
const TTL_MS = 30 * DAY_MS;
const THREAD_LIFETIME_MS = 24 * 3_600_000;

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A team of its own with one uploaded file, and ways to look at it. */
async function teamWithBlob(team: string, content: string) {
  const workerEnv = testEnv({ TEAM_TOKENS: JSON.stringify({ [await sha256Hex(team)]: team }), GEMINI_API_KEY: "k", GEMINI_BASE_URL: "https://gemini.test" });
  const headers = { authorization: `Bearer ${team}` };
  const call = (path: string, init: RequestInit = {}) =>
    callWorker(new Request(`http://localhost${path}`, { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) } }), workerEnv);
  const sha = await sha256Hex(content);
  expect((await call(`/v1/blobs/${sha}`, { method: "PUT", body: content })).status).toBe(201);
  const stub = blobStub(workerEnv, team, sha);
  const key = (await stub.info())?.key ?? "";
  expect(key).not.toBe("");
  return {
    workerEnv,
    headers,
    call,
    sha,
    stub,
    key,
    usage: () => workerEnv.TEAMS.getByName(team).quotaUsage(),
    /** Moves the blob's last reference back past the TTL, so that its alarm is due. */
    lastReferenced: (at: number) => runInDurableObject(stub, (_, state) => void state.storage.sql.exec("UPDATE meta SET referenced_at = ?", at)),
    referencedAt: () => runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ at: number }>("SELECT referenced_at AS at FROM meta").one().at),
    alarmAt: () => runInDurableObject(stub, (_, state) => state.storage.getAlarm()),
    tables: () =>
      runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").toArray()),
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("blob expiry", () => {
  it("a blob nothing references is deleted BLOB_TTL_DAYS after its upload: R2 object, facts, cached facts and quota", async () => {
    const t = await teamWithBlob("expiry-unreferenced", "print('forgotten')\n");
    const uploadedAt = await t.referencedAt();
    expect(await t.alarmAt()).toBe(uploadedAt + TTL_MS);
    // The presence check caches the facts in KV.
    const present = await t.call("/v1/blobs/missing", { method: "POST", body: JSON.stringify({ sha256: [t.sha] }), headers: { "content-type": "application/json" } });
    expect(await present.json()).toEqual({ missing: [] });
    await deferredWorkDone();
    const cacheKey = `${BLOB_FACTS_CACHE}:expiry-unreferenced:${t.sha}`;
    expect(await t.workerEnv.CACHE.get(cacheKey)).not.toBeNull();

    // Run before it is due, the alarm leaves it and comes back when it is.
    expect(await runDurableObjectAlarm(t.stub)).toBe(true);
    expect(await t.stub.info()).not.toBeNull();
    expect(await t.alarmAt()).toBe(uploadedAt + TTL_MS);

    await t.lastReferenced(Date.now() - TTL_MS - 1_000);
    expect(await runDurableObjectAlarm(t.stub)).toBe(true);
    expect(await t.stub.info()).toBeNull();
    expect(await t.workerEnv.BLOB_BUCKET.head(t.key)).toBeNull();
    expect(await t.workerEnv.CACHE.get(cacheKey)).toBeNull();
    expect(await t.usage()).toEqual({ storedBytes: 0, reservedBytes: 0, manifestBytes: 0 });
    expect(await t.tables()).toEqual([]);
    expect((await t.call(`/v1/blobs/${t.sha}`, { method: "HEAD" })).status).toBe(404);
  });

  it("a manifest naming the blob keeps it, its clock started again", async () => {
    const t = await teamWithBlob("expiry-manifest", "print('registered')\n");
    const manifest = JSON.stringify({ files: { "/repo/main.py": t.sha } });
    expect((await t.call("/v1/workspaces/ws/manifest", { method: "PUT", body: manifest, headers: { "content-type": "application/json" } })).status).toBe(200);
    await t.lastReferenced(Date.now() - TTL_MS - 1_000);
    const before = Date.now();
    expect(await runDurableObjectAlarm(t.stub)).toBe(true);
    expect(await t.stub.info()).not.toBeNull();
    expect(await t.workerEnv.BLOB_BUCKET.head(t.key)).not.toBeNull();
    expect(await t.referencedAt()).toBeGreaterThanOrEqual(before);
    expect(await t.alarmAt()).toBe((await t.referencedAt()) + TTL_MS);
    expect((await t.usage()).storedBytes).toBe("print('registered')\n".length);
  });

  it("a thread that read the blob keeps it for the thread's lifetime past the read; then it is deleted", async () => {
    const content = "def handler():\n    return 42\n";
    const t = await teamWithBlob("expiry-thread", content);
    const sent = mockUpstream(() => "It returns 42.");
    const client = await connectClient(t.workerEnv, t.headers);
    const result = await client.callTool({ name: "chat", arguments: { prompt: "What does it return?", model: "flash", absolute_file_paths: [`sha256:${t.sha}`] } });
    await client.close();
    expect(result.isError).toBeFalsy();
    expect(promptOf(sent[0]!)).toContain("return 42");
    await deferredWorkDone();

    const team = t.workerEnv.TEAMS.getByName("expiry-thread");
    const readAt = await runInDurableObject(team, (_, state) =>
      state.storage.sql.exec<{ at: number }>("SELECT used_at AS at FROM blob_uses WHERE sha256 = ?", t.sha).one().at,
    );
    await t.lastReferenced(Date.now() - TTL_MS - 1_000);
    expect(await runDurableObjectAlarm(t.stub)).toBe(true);
    expect(await t.stub.info()).not.toBeNull();
    // Referenced until the thread that read it can last have lived: its clock runs from there.
    expect(await t.referencedAt()).toBe(readAt + THREAD_LIFETIME_MS);

    // The thread's read, moved back past the TTL and the thread's lifetime: nothing references it.
    await runInDurableObject(team, (_, state) => void state.storage.sql.exec("UPDATE blob_uses SET used_at = ?", Date.now() - TTL_MS - THREAD_LIFETIME_MS - 1_000));
    await t.lastReferenced(Date.now() - TTL_MS - 1_000);
    expect(await runDurableObjectAlarm(t.stub)).toBe(true);
    expect(await t.stub.info()).toBeNull();
    expect(await t.workerEnv.BLOB_BUCKET.head(t.key)).toBeNull();
    expect(await t.usage()).toEqual({ storedBytes: 0, reservedBytes: 0, manifestBytes: 0 });
  });

  it("an expiry that failed half-way is finished by the next alarm without giving the quota back twice", async () => {
    const t = await teamWithBlob("expiry-retry", "first\n");
    const other = "second file\n";
    const otherSha = await sha256Hex(other);
    expect((await t.call(`/v1/blobs/${otherSha}`, { method: "PUT", body: other })).status).toBe(201);
    // The state an alarm leaves when it gave the quota back and failed before deleting the bytes.
    await t.lastReferenced(Date.now() - TTL_MS - 1_000);
    expect(await t.workerEnv.TEAMS.getByName("expiry-retry").releaseUnreferencedBlob(t.sha, "first\n".length, Date.now() - TTL_MS)).toEqual({ status: "released" });
    await runInDurableObject(t.stub, (_, state) => void state.storage.sql.exec("UPDATE meta SET state = 'expired'"));
    expect(await runDurableObjectAlarm(t.stub)).toBe(true);
    expect(await t.workerEnv.BLOB_BUCKET.head(t.key)).toBeNull();
    expect(await t.tables()).toEqual([]);
    expect((await t.usage()).storedBytes).toBe(other.length);
  });
});
