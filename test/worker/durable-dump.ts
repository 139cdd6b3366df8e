import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { callWorker, connectClient, testEnv } from "./helpers";

/**
 * One Durable Object's SQLite state as JSON: the DDL of its tables and indexes (as sqlite_master
 * keeps it) and every row of every table. The runtime's own tables (_cf_*) are left out: they hold
 * alarms and KV storage, not the object's schema. Bytes (BLOB columns) are written as base64.
 */
export interface DurableDump {
  binding: "CONVERSATIONS" | "TEAMS" | "BLOBS";
  name: string;
  schema: string[];
  rows: Record<string, Array<Record<string, DumpValue>>>;
}

type DumpValue = string | number | null | { base64: string };

export async function dumpObject(binding: DurableDump["binding"], stub: DurableObjectStub, name: string): Promise<DurableDump> {
  return runInDurableObject(stub, (_, state) => {
    const sql = state.storage.sql;
    const entries = sql
      .exec<{ type: string; name: string; sql: string }>(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY rowid",
      )
      .toArray();
    const rows = Object.fromEntries(
      entries
        .filter((entry) => entry.type === "table")
        .map((table) => [
          table.name,
          // Any table's rows, in rowid order: a dump names no columns on purpose (it takes them all).
          sql
            .exec(`SELECT * FROM "${table.name}" ORDER BY rowid`)
            .toArray()
            .map((row) => Object.fromEntries(Object.entries(row).map(([column, value]) => [column, toJson(value)]))),
        ]),
    );
    return { binding, name, schema: entries.map((entry) => entry.sql), rows };
  });
}

/**
 * Leaves an object holding exactly the dump (its DDL and rows, nothing else), then evicts it: its
 * next call wakes it as a release that finds this state stored.
 */
export async function restoreObject(stub: DurableObjectStub, dump: DurableDump): Promise<void> {
  await runInDurableObject(stub, async (_, state) => {
    // What its constructor may have created on this wake (the team's object creates its tables).
    await state.storage.deleteAll();
    const sql = state.storage.sql;
    state.storage.transactionSync(() => {
      for (const statement of dump.schema) sql.exec(statement);
      for (const [table, rows] of Object.entries(dump.rows)) {
        for (const row of rows) {
          const columns = Object.keys(row);
          sql.exec(
            `INSERT INTO "${table}" (${columns.map((column) => `"${column}"`).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
            ...columns.map((column) => fromJson(row[column] ?? null)),
          );
        }
      }
    });
  });
  await evictDurableObject(stub);
}

function toJson(value: SqlStorageValue): DumpValue {
  if (value instanceof ArrayBuffer) return { base64: btoa(String.fromCharCode(...new Uint8Array(value))) };
  return value;
}

function fromJson(value: DumpValue): SqlStorageValue {
  if (value !== null && typeof value === "object") return Uint8Array.from(atob(value.base64), (c) => c.charCodeAt(0)).buffer;
  return value;
}

/** The team the fixtures of test/fixtures/durable-v1 were written for (its token is "token-<team>"). */
export const FIXTURE_TEAM = "durable-v1";
/** The clock while they were written: a reader sets it back to a little after, so nothing has expired. */
export const FIXTURE_TIME = Date.parse("2026-12-01T12:00:00.000Z");

export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The fixtures' team: its worker env (with a Gemini key, for the mocked upstream), tool calls and requests. */
export async function fixtureTeam() {
  const workerEnv = testEnv({
    GEMINI_API_KEY: "k",
    GEMINI_BASE_URL: "https://gemini.test",
    TEAM_TOKENS: JSON.stringify({ [await sha256Hex(`token-${FIXTURE_TEAM}`)]: FIXTURE_TEAM }),
  });
  const headers = { authorization: `Bearer token-${FIXTURE_TEAM}` };
  const tool = async (name: string, args: Record<string, unknown>) => {
    const client = await connectClient(workerEnv, headers);
    const result = await client.callTool({ name, arguments: args });
    await client.close();
    return { isError: result.isError === true, text: (result.content as Array<{ text: string }>)[0]?.text ?? "" };
  };
  const request = (path: string, init: RequestInit = {}) =>
    callWorker(new Request(`http://localhost${path}`, { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) } }), workerEnv);
  return { workerEnv, tool, request };
}
