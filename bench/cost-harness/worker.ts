/**
 * The project's worker with counting wrappers, for bench/cost.ts only. What Cloudflare bills by
 * count is counted here, exactly, as the project's own code runs:
 *
 * - Worker requests: every request this entry serves (but `/__counts`).
 * - Durable Object requests: every method call (RPC) or fetch on a stub of each namespace of the
 *   env, the worker's and each object's (Cloudflare bills each RPC method call on a stub as one
 *   request), per binding and per method.
 * - SQLite rows read and written: the `rowsRead` / `rowsWritten` of every cursor an object's
 *   `ctx.storage.sql.exec` returns, settled after each step of the cursor (rows are counted by
 *   SQLite as the cursor is consumed), plus the key-value storage API (`ctx.storage.kv` and the
 *   async `get`/`put`/`delete`/`list`), which a SQLite-backed object stores in a hidden table and is
 *   billed as rows: one row per key read or written.
 * - KV operations per namespace and method (get, getWithMetadata, put, delete, list).
 * - R2 operations per bucket and method: on the bucket (head, get, put, list, delete,
 *   createMultipartUpload) and on its multipart uploads (uploadPart, complete, abort);
 *   `resumeMultipartUpload` only builds a handle and is no operation.
 * - Subrequests: every call of the global fetch, from the worker or an object.
 *
 * Under `wrangler dev` the worker and all its objects run in one isolate, so one module-level
 * counter sees all of them. `GET /__counts` returns it; `?reset=1` clears it after reading.
 */
import project, { BlobDO, ConversationDO, ProviderBreakerDO, RateLimiterDO, TeamDO } from "../../src/worker.ts";
import type { Env } from "../../src/core/env.ts";

const counts = new Map<string, number>();

function add(key: string, by = 1): void {
  if (by !== 0) counts.set(key, (counts.get(key) ?? 0) + by);
}

// Subrequests: patched once per isolate; objects share the global.
const originalFetch = globalThis.fetch;
globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
  add("subrequests");
  return originalFetch(input, init);
}) as typeof fetch;

/** A proxy of `target` whose functions run with the real object as `this` (workerd's objects insist on it), some replaced. */
function wrap<T extends object>(target: T, replace: (prop: string | symbol, value: unknown) => unknown): T {
  return new Proxy(target, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t) as unknown;
      const replaced = replace(prop, value);
      if (replaced !== undefined) return replaced;
      if (prop === "then") return value; // a proxy must not become thenable
      // Reflect.apply, not value.apply / .bind: on an RPC stub those would be calls of remote methods.
      return typeof value === "function" ? (...args: unknown[]) => Reflect.apply(value, t, args) : value;
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Durable Object stubs and KV namespaces of an env.

/** Not RPC method calls: a stub's own fields and what `await` and `using` look up. */
const STUB_OWN = new Set<string | symbol>(["then", "id", "name", "dup", "toJSON", Symbol.dispose]);

function countedStub(stub: object, binding: string): object {
  return wrap(stub, (prop, value) => {
    if (STUB_OWN.has(prop) || typeof prop !== "string" || typeof value !== "function") return undefined;
    return (...args: unknown[]) => {
      add(`do.${binding}`);
      add(`do.${binding}.${prop}`);
      return Reflect.apply(value as Function, stub, args);
    };
  });
}

function countedNamespace(namespace: DurableObjectNamespace, binding: string): DurableObjectNamespace {
  return wrap(namespace, (prop, value) => {
    if ((prop !== "get" && prop !== "getByName") || typeof value !== "function") return undefined;
    return (...args: unknown[]) => countedStub(Reflect.apply(value as Function, namespace, args) as object, binding);
  });
}

const KV_METHODS = new Set(["get", "getWithMetadata", "put", "delete", "list"]);

function countedKv(kv: KVNamespace, binding: string): KVNamespace {
  return wrap(kv, (prop, value) => {
    if (typeof prop !== "string" || !KV_METHODS.has(prop) || typeof value !== "function") return undefined;
    return (...args: unknown[]) => {
      // The model catalog is read by time, not by call (each isolate at most once a minute):
      // counted apart, so a scenario's counts do not depend on where the minute falls.
      const counter = typeof args[0] === "string" && args[0].startsWith("model-catalog:") ? "kvByTime" : "kv";
      // A get of several keys at once is one read per key.
      add(`${counter}.${binding}.${prop}`, prop === "get" && Array.isArray(args[0]) ? args[0].length : 1);
      return Reflect.apply(value as Function, kv, args);
    };
  });
}

const R2_METHODS = new Set(["head", "get", "put", "list", "delete", "createMultipartUpload"]);
const R2_MULTIPART_METHODS = new Set(["uploadPart", "complete", "abort"]);

function countedMultipart(upload: R2MultipartUpload, binding: string): R2MultipartUpload {
  return wrap(upload, (prop, value) => {
    if (typeof prop !== "string" || !R2_MULTIPART_METHODS.has(prop) || typeof value !== "function") return undefined;
    return (...args: unknown[]) => {
      add(`r2.${binding}.${prop}`);
      return Reflect.apply(value as Function, upload, args);
    };
  });
}

function countedBucket(bucket: R2Bucket, binding: string): R2Bucket {
  return wrap(bucket, (prop, value) => {
    if (typeof prop !== "string" || typeof value !== "function") return undefined;
    if (prop === "resumeMultipartUpload") {
      return (...args: unknown[]) => countedMultipart(Reflect.apply(value as Function, bucket, args) as R2MultipartUpload, binding);
    }
    if (!R2_METHODS.has(prop)) return undefined;
    return (...args: unknown[]) => {
      add(`r2.${binding}.${prop}`);
      const result = Reflect.apply(value as Function, bucket, args) as Promise<unknown>;
      return prop === "createMultipartUpload" ? result.then((upload) => countedMultipart(upload as R2MultipartUpload, binding)) : result;
    };
  });
}

function isBucket(value: unknown): value is R2Bucket {
  return typeof value === "object" && value !== null && typeof (value as R2Bucket).createMultipartUpload === "function";
}

function isNamespace(value: unknown): value is DurableObjectNamespace {
  return typeof value === "object" && value !== null && typeof (value as DurableObjectNamespace).idFromName === "function";
}

function isKv(value: unknown): value is KVNamespace {
  return typeof value === "object" && value !== null && typeof (value as KVNamespace).getWithMetadata === "function";
}

/**
 * One counted env per real env, so that what the project caches per env object (its config, its
 * provider registry) stays cached as it does unwrapped.
 */
const countedEnvs = new WeakMap<object, Env>();

function countedEnv(env: Env): Env {
  let counted = countedEnvs.get(env);
  if (!counted) {
    const bindings: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(env)) {
      bindings[name] = isNamespace(value)
        ? countedNamespace(value, name)
        : isKv(value)
          ? countedKv(value, name)
          : isBucket(value)
            ? countedBucket(value, name)
            : value;
    }
    counted = bindings as unknown as Env;
    countedEnvs.set(env, counted);
  }
  return counted;
}

// ---------------------------------------------------------------------------------------------
// SQLite rows of each object class.

/** A cursor whose rows are added to the class's counters after every step that can read or write them. */
function countedCursor(cursor: SqlStorageCursor<Record<string, SqlStorageValue>>, cls: string): SqlStorageCursor<Record<string, SqlStorageValue>> {
  let read = 0;
  let written = 0;
  const settle = () => {
    add(`sql.${cls}.rowsRead`, cursor.rowsRead - read);
    add(`sql.${cls}.rowsWritten`, cursor.rowsWritten - written);
    read = cursor.rowsRead;
    written = cursor.rowsWritten;
  };
  settle(); // exec runs the statement's first step at once (all of it for a write)
  const stepping = <I extends object>(iterator: I): I => {
    const proxy: I = wrap(iterator, (prop, value) => {
      if (prop === Symbol.iterator) return () => proxy;
      if (prop === "next" && typeof value === "function") {
        return (...args: unknown[]) => {
          const result = Reflect.apply(value as Function, iterator, args);
          settle();
          return result;
        };
      }
      return undefined;
    });
    return proxy;
  };
  const proxy = stepping(cursor);
  return wrap(proxy, (prop, value) => {
    if ((prop === "toArray" || prop === "one") && typeof value === "function") {
      return (...args: unknown[]) => {
        try {
          return Reflect.apply(value as Function, cursor, args);
        } finally {
          settle();
        }
      };
    }
    if (prop === "raw" && typeof value === "function") return () => stepping(Reflect.apply(value as Function, cursor, []) as object);
    return undefined;
  });
}

function countedSql(sql: SqlStorage, cls: string): SqlStorage {
  return wrap(sql, (prop, value) => {
    if (prop !== "exec" || typeof value !== "function") return undefined;
    return (query: string, ...bindings: unknown[]) => countedCursor((value as SqlStorage["exec"]).call(sql, query, ...(bindings as SqlStorageValue[])), cls);
  });
}

/** Rows of the key-value storage API: a key read or written is a row read or written. */
function keysOf(keyOrKeys: unknown): number {
  return Array.isArray(keyOrKeys) ? keyOrKeys.length : typeof keyOrKeys === "object" && keyOrKeys !== null ? Object.keys(keyOrKeys).length : 1;
}

function countedKeyValue<T extends object>(storage: T, cls: string): T {
  return wrap(storage, (prop, value) => {
    if (typeof value !== "function") return undefined;
    const call = (...args: unknown[]) => Reflect.apply(value as Function, storage, args);
    if (prop === "get") return (key: unknown, ...rest: unknown[]) => (add(`sql.${cls}.rowsRead`, keysOf(key)), call(key, ...rest));
    if (prop === "put") return (key: unknown, ...rest: unknown[]) => (add(`sql.${cls}.rowsWritten`, keysOf(key)), call(key, ...rest));
    if (prop === "delete") return (key: unknown, ...rest: unknown[]) => (add(`sql.${cls}.rowsWritten`, keysOf(key)), call(key, ...rest));
    if (prop === "list") {
      return (...args: unknown[]) => {
        const settleList = (result: unknown) => {
          const size = result instanceof Map ? result.size : 0;
          add(`sql.${cls}.rowsRead`, size);
          return result;
        };
        const result = call(...args);
        return result instanceof Promise ? result.then(settleList) : settleList(result);
      };
    }
    return undefined;
  });
}

/** The object's state with its storage counted; the project's classes get it in their constructor. */
function countedState(ctx: DurableObjectState, cls: string): DurableObjectState {
  const real = ctx.storage;
  const storage = countedKeyValue(real, cls);
  const sql = countedSql(real.sql, cls);
  const kv = (real as unknown as { kv?: object }).kv;
  const storageWithSql = wrap(storage, (prop) => (prop === "sql" ? sql : prop === "kv" && kv ? countedKeyValue(kv, cls) : undefined));
  // An own property shadows the prototype's getter: the project reads ctx.storage.
  Object.defineProperty(ctx, "storage", { value: storageWithSql, configurable: true });
  return ctx;
}

class CountedConversationDO extends ConversationDO {
  constructor(ctx: DurableObjectState, env: Env) {
    super(countedState(ctx, "ConversationDO"), countedEnv(env));
  }
}
class CountedProviderBreakerDO extends ProviderBreakerDO {
  constructor(ctx: DurableObjectState, env: Env) {
    super(countedState(ctx, "ProviderBreakerDO"), countedEnv(env));
  }
}
class CountedTeamDO extends TeamDO {
  constructor(ctx: DurableObjectState, env: Env) {
    super(countedState(ctx, "TeamDO"), countedEnv(env));
  }
}
class CountedBlobDO extends BlobDO {
  constructor(ctx: DurableObjectState, env: Env) {
    super(countedState(ctx, "BlobDO"), countedEnv(env));
  }
}
class CountedRateLimiterDO extends RateLimiterDO {
  constructor(ctx: DurableObjectState, env: Env) {
    super(countedState(ctx, "RateLimiterDO"), countedEnv(env));
  }
}

export {
  CountedBlobDO as BlobDO,
  CountedConversationDO as ConversationDO,
  CountedProviderBreakerDO as ProviderBreakerDO,
  CountedRateLimiterDO as RateLimiterDO,
  CountedTeamDO as TeamDO,
};

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/__counts") {
      const body = Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));
      if (url.searchParams.get("reset") === "1") counts.clear();
      return Response.json(body);
    }
    add("worker.requests");
    return project.fetch(request, countedEnv(env), ctx);
  },
} satisfies ExportedHandler<Env>;
