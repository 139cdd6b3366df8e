/**
 * Schema versions of the Durable Objects (src/durable/schema.ts): objects stored by the release
 * before versions were kept (test/fixtures/durable-v1, written by its code) open, read, continue
 * and list through the worker; new objects get the same tables; and a migration runs once, whole
 * or not at all.
 */
import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/core/env.ts";
import { BLOB_SCHEMA } from "../../src/durable/blob.ts";
import { migrate, schemaVersion, type Schema, type SchemaStorage } from "../../src/durable/schema.ts";
import { TEAM_SCHEMA } from "../../src/durable/team.ts";
import { THREAD_SCHEMA } from "../../src/durable/thread-store.ts";
import blobFixture from "../fixtures/durable-v1/blob.json";
import teamFixture from "../fixtures/durable-v1/team.json";
import chatFixture from "../fixtures/durable-v1/thread-chat.json";
import workflowFixture from "../fixtures/durable-v1/thread-workflow.json";
import { dumpObject, FIXTURE_TEAM, FIXTURE_TIME, fixtureTeam, restoreObject, sha256Hex, type DurableDump } from "./durable-dump";
import { callWorker, connectClient, deferredWorkDone, testEnv } from "./helpers";
import { mockUpstream, promptOf } from "./upstream-mock";

const fixtures = {
  chat: chatFixture as DurableDump,
  workflow: workflowFixture as DurableDump,
  team: teamFixture as DurableDump,
  blob: blobFixture as DurableDump,
};

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function stubOf(workerEnv: Env, dump: Pick<DurableDump, "binding" | "name">): DurableObjectStub {
  return workerEnv[dump.binding].getByName(dump.name) as unknown as DurableObjectStub;
}

/** The version an object's tables are at, and whether it holds a version row. */
function versionOf(stub: DurableObjectStub, schema: Schema): Promise<{ version: number; versionRow: boolean }> {
  return runInDurableObject(stub, (_, state) => ({
    version: schemaVersion(state.storage.sql, schema),
    versionRow: state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'schema_version'").toArray().length > 0,
  }));
}

describe("objects stored by the release before schema versions", () => {
  it("open and read: threads continue at version 1, the team lists them and its usage, the blob reads and moves to R2", async () => {
    // The fixtures' clock, a minute on: their threads have not expired and their usage is today's.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(FIXTURE_TIME + 60_000);
    const sent = mockUpstream(() => "Use an asyncio.Lock.");
    const { workerEnv, tool, request } = await fixtureTeam();
    for (const dump of Object.values(fixtures)) await restoreObject(stubOf(workerEnv, dump), dump);
    const chatId = fixtures.chat.rows["thread"]?.[0]?.["thread_id"] as string;
    const workflowId = fixtures.workflow.rows["thread"]?.[0]?.["thread_id"] as string;

    // Read through the objects' RPC methods, as the tools do.
    const thread = await workerEnv.CONVERSATIONS.getByName(fixtures.chat.name).read();
    expect(thread).toMatchObject({ threadId: chatId, creatorTool: "chat", turnCount: 4 });
    expect(thread?.files.map((file) => file.path)).toEqual(["/repo/lock.py"]);
    const workflow = await workerEnv.CONVERSATIONS.getByName(fixtures.workflow.name).read();
    expect(Object.keys(workflow?.workflows ?? {})).toEqual(["thinkdeep"]);
    const team = workerEnv.TEAMS.getByName(FIXTURE_TEAM);
    expect(await team.quotaUsage()).toEqual({ storedBytes: 41, reservedBytes: 1000, manifestBytes: 80 });
    const blobSha = fixtures.blob.rows["meta"]?.[0]?.["sha256"] as string;
    expect(await team.lookupFiles("ws1", ["/repo/lock.py"])).toEqual([{ path: "/repo/lock.py", sha256: blobSha }]);

    // Continued through the worker: the chat with its history and file, the workflow from its step state.
    const chat = await tool("chat", { prompt: "And with asyncio?", continuation_id: chatId });
    expect(chat.isError).toBe(false);
    const prompt = promptOf(sent[0]!);
    expect(prompt).toContain("Is a mutex needed here?");
    expect(prompt).toContain("BEGIN FILE: /repo/lock.py");
    const step = await tool("thinkdeep", {
      step: "Shard by tenant.",
      step_number: 2,
      total_steps: 2,
      next_step_required: false,
      findings: "Tenants are evenly sized.",
      continuation_id: workflowId,
      // The model the version-1 threads were written with (the alias flash has moved on since).
      model: "gemini-2.5-flash",
    });
    expect(step.isError).toBe(false);
    expect(JSON.stringify(sent[1]?.body)).toContain("One table is hot.");
    expect((await workerEnv.CONVERSATIONS.getByName(fixtures.chat.name).read())?.turnCount).toBe(6);
    await deferredWorkDone();

    const listed = await tool("threads", {});
    expect(listed.text).toContain(chatId);
    expect(listed.text).toContain(workflowId);
    const usage = (await (await request("/v1/usage?days=1")).json()) as { rows: Array<{ day: string; model: string; calls: number }> };
    expect(usage.rows).toEqual([expect.objectContaining({ day: "2026-12-01", model: "gemini-2.5-flash", calls: 4 })]);
    // The blob's bytes are still in its rows: the first read serves them and moves them to R2.
    const blobStubOf = workerEnv.BLOBS.getByName(fixtures.blob.name);
    expect(await blobStubOf.info()).toMatchObject({ sha256: blobSha, size: 41, key: "" });
    const blob = await request(`/v1/blobs/${blobSha}`);
    expect(blob.status).toBe(200);
    expect(await blob.text()).toBe("import threading\nlock = threading.Lock()\n");
    const moved = await blobStubOf.info();
    expect(moved?.key).toMatch(new RegExp(`^${FIXTURE_TEAM}/${blobSha}/`));
    expect(await (await workerEnv.BLOB_BUCKET.get(moved!.key))?.text()).toBe("import threading\nlock = threading.Lock()\n");
    const rowsLeft = await runInDurableObject(stubOf(workerEnv, fixtures.blob), (_, state) => ({
      chunks: state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM chunks").one().n,
      alarm: state.storage.getAlarm(),
    }));
    expect(rowsLeft.chunks).toBe(0);
    expect(await rowsLeft.alarm).not.toBeNull();
    // Served from R2 from then on, its facts unchanged, and counted once in the quota.
    const again = await request(`/v1/blobs/${blobSha}`);
    expect(await again.text()).toBe("import threading\nlock = threading.Lock()\n");
    expect(await blobStubOf.info()).toEqual(moved);
    expect((await team.quotaUsage()).storedBytes).toBe(41);

    // Threads had nothing to migrate and got no version row; the team and the blob are at their latest version.
    for (const [dump, schema] of [
      [fixtures.chat, THREAD_SCHEMA],
      [fixtures.workflow, THREAD_SCHEMA],
    ] as const) {
      expect(await versionOf(stubOf(workerEnv, dump), schema)).toEqual({ version: 1, versionRow: false });
    }
    for (const [dump, schema] of [
      [fixtures.team, TEAM_SCHEMA],
      [fixtures.blob, BLOB_SCHEMA],
    ] as const) {
      expect(await versionOf(stubOf(workerEnv, dump), schema)).toEqual({ version: schema.migrations.length, versionRow: true });
    }
  });

  it("a team's object from before its manifests were counted is brought to its latest version, its manifests counted", async () => {
    const { workerEnv } = await fixtureTeam();
    const { manifest_usage: _, ...rows } = fixtures.team.rows;
    const older: DurableDump = {
      ...fixtures.team,
      name: "before-manifest-usage",
      schema: fixtures.team.schema.filter((ddl) => !ddl.includes("manifest_usage")),
      rows,
    };
    const stub = stubOf(workerEnv, older);
    await restoreObject(stub, older);
    expect(await workerEnv.TEAMS.getByName(older.name).quotaUsage()).toEqual({ storedBytes: 41, reservedBytes: 1000, manifestBytes: 80 });
    expect(await versionOf(stub, TEAM_SCHEMA)).toEqual({ version: TEAM_SCHEMA.migrations.length, versionRow: true });
  });

  it("new objects get the tables that objects of version 1 have once migrated, and a version row", async () => {
    mockUpstream(() => "ok");
    const { workerEnv } = await fixtureTeam();
    const team = `${FIXTURE_TEAM}-new`;
    const tokens = { [await sha256Hex(`token-${team}`)]: team };
    const env = { ...workerEnv, TEAM_TOKENS: JSON.stringify(tokens) };
    const headers = { authorization: `Bearer token-${team}` };
    const content = "fresh\n";
    const sha = await sha256Hex(content);
    expect((await callWorker(new Request(`http://localhost/v1/blobs/${sha}`, { method: "PUT", body: content, headers }), env)).status).toBe(201);
    const client = await connectClient(env, headers);
    const result = await client.callTool({ name: "chat", arguments: { prompt: "Hello", model: "flash" } });
    await client.close();
    const id = (JSON.parse((result.content as Array<{ text: string }>)[0]?.text ?? "") as { continuation_offer: { continuation_id: string } }).continuation_offer
      .continuation_id;
    await deferredWorkDone();

    const created = [
      await dumpObject("CONVERSATIONS", env.CONVERSATIONS.getByName(`${team}:${id}`) as unknown as DurableObjectStub, `${team}:${id}`),
      await dumpObject("TEAMS", env.TEAMS.getByName(team) as unknown as DurableObjectStub, team),
      await dumpObject("BLOBS", env.BLOBS.getByName(`${team}:${sha}`) as unknown as DurableObjectStub, `${team}:${sha}`),
    ];
    // Version 1 objects, woken (and so migrated) by a read.
    const migrated: Record<string, DurableDump> = {};
    for (const [key, dump] of [["team", fixtures.team], ["blob", fixtures.blob]] as const) {
      const stub = stubOf(workerEnv, { binding: dump.binding, name: `${dump.name}-migrated` });
      await restoreObject(stub, dump);
      await (key === "team" ? workerEnv.TEAMS.getByName(`${dump.name}-migrated`).quotaUsage() : workerEnv.BLOBS.getByName(`${dump.name}-migrated`).info());
      migrated[key] = await dumpObject(dump.binding, stub, `${dump.name}-migrated`);
    }
    const normalized = (schema: string[]) => schema.map((statement) => statement.replace(/\s+/g, " "));
    const versionTable = "CREATE TABLE schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)";
    expect(normalized(created[0]!.schema)).toEqual([...normalized(fixtures.chat.schema), versionTable]);
    expect(created[0]!.rows["schema_version"]).toEqual([{ id: 1, version: THREAD_SCHEMA.migrations.length }]);
    for (const [dump, old, schema] of [
      [created[1], migrated["team"], TEAM_SCHEMA],
      [created[2], migrated["blob"], BLOB_SCHEMA],
    ] as const) {
      expect(normalized(dump!.schema)).toEqual(normalized(old!.schema));
      expect(normalized(dump!.schema)).toContain(versionTable);
      expect(dump!.rows["schema_version"]).toEqual([{ id: 1, version: schema.migrations.length }]);
    }
  });
});

describe("migrations", () => {
  /** The thread's schema with a migration 2, as a later release would add one. */
  const withVersion2 = (statements: string[]): Schema => ({ ...THREAD_SCHEMA, migrations: [...THREAD_SCHEMA.migrations, statements] });
  const addPinned = "ALTER TABLE turns ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0";

  /** The object's storage, counting the migrations' transactions. */
  function counted(state: DurableObjectState): { storage: SchemaStorage; transactions: () => number } {
    let transactions = 0;
    return {
      storage: {
        sql: state.storage.sql,
        transactionSync: (closure) => {
          transactions++;
          return state.storage.transactionSync(closure);
        },
      },
      transactions: () => transactions,
    };
  }

  it("a migration 2 runs once on a version 1 object, and an object at 2 runs nothing", async () => {
    const stub = stubOf(testEnv(), { binding: "CONVERSATIONS", name: "migration-2" });
    await restoreObject(stub, fixtures.chat);
    await runInDurableObject(stub, (_, state) => {
      const { storage, transactions } = counted(state);
      expect(migrate(storage, withVersion2([addPinned]), false)).toBe(true);
      expect(transactions()).toBe(1);
      expect(schemaVersion(state.storage.sql, THREAD_SCHEMA)).toBe(2);
      expect(state.storage.sql.exec("SELECT idx, pinned FROM turns ORDER BY idx").toArray()).toEqual([1, 2, 3, 4].map((idx) => ({ idx, pinned: 0 })));
      // Run again (the next wake), the ALTER would fail: it does not run.
      expect(migrate(storage, withVersion2([addPinned]), false)).toBe(true);
      expect(transactions()).toBe(1);
      // Code that knows only version 1 (a rollback) uses the object as it is.
      expect(migrate(storage, THREAD_SCHEMA, false)).toBe(true);
      expect(transactions()).toBe(1);
    });
  });

  it("a migration that fails leaves the object at its version, with none of its statements applied", async () => {
    const stub = stubOf(testEnv(), { binding: "CONVERSATIONS", name: "migration-fails" });
    await restoreObject(stub, fixtures.chat);
    await runInDurableObject(stub, (_, state) => {
      expect(() => migrate(state.storage, withVersion2([addPinned, "ALTER TABLE no_such_table ADD COLUMN x"]), false)).toThrow();
      expect(schemaVersion(state.storage.sql, THREAD_SCHEMA)).toBe(1);
      const columns = state.storage.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('turns')").toArray();
      expect(columns.map((column) => column.name)).not.toContain("pinned");
    });
  });

  it("an object without tables stays without any unless it is being written", async () => {
    const stub = stubOf(testEnv(), { binding: "CONVERSATIONS", name: "migration-empty" });
    await runInDurableObject(stub, (_, state) => {
      const { storage, transactions } = counted(state);
      expect(migrate(storage, withVersion2([addPinned]), false)).toBe(false);
      expect(transactions()).toBe(0);
      expect(state.storage.sql.exec("SELECT name FROM sqlite_master").toArray()).toEqual([]);
      // Its first write creates the tables through every migration, in one transaction.
      expect(migrate(storage, withVersion2([addPinned]), true)).toBe(true);
      expect(transactions()).toBe(1);
      expect(schemaVersion(state.storage.sql, THREAD_SCHEMA)).toBe(2);
    });
  });
});
