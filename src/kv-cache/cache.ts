/**
 * A read-through cache: a bounded in-isolate LRU in front of Workers KV. Values are JSON.
 * Keys are versioned by the caller (e.g. `tools-list:v1:<version>:<config hash>`), so stale
 * entries are never overwritten, only left to expire. KV writes happen off the hot path.
 */

export interface CacheStats {
  memoryHits: number;
  kvHits: number;
  misses: number;
  entries: number;
}

interface CacheOptions {
  /** Entries kept in the isolate before the least recently used one is dropped. */
  maxEntries: number;
  /** KV expiry; KV refuses less than 60 s. */
  ttlSeconds: number;
}

/** Every cache created in this isolate, by name, for /health. */
const caches = new Map<string, KvCache<unknown>>();

export function cacheStats(): Record<string, CacheStats> {
  return Object.fromEntries([...caches].map(([name, cache]) => [name, cache.stats()]));
}

export class KvCache<T> {
  private readonly memory = new Map<string, T>();
  private readonly counters = { memoryHits: 0, kvHits: 0, misses: 0 };

  constructor(
    readonly name: string,
    private readonly options: CacheOptions,
  ) {
    caches.set(name, this as KvCache<unknown>);
  }

  /**
   * The cached value of `key`, or `compute()`'s result, which is then stored in both layers
   * unless `keep` says not to (e.g. "not found yet" answers). `defer` receives the KV write so
   * the caller can hand it to `ctx.waitUntil`.
   */
  async get(
    kv: KVNamespace,
    key: string,
    compute: () => T | Promise<T>,
    defer: (work: Promise<unknown>) => void,
    keep: (value: T) => boolean = () => true,
  ): Promise<T> {
    const fullKey = `${this.name}:${key}`;
    const remembered = this.memory.get(fullKey);
    if (remembered !== undefined) {
      this.counters.memoryHits++;
      this.touch(fullKey, remembered);
      return remembered;
    }
    const stored = await kv.get<T>(fullKey, { type: "json", cacheTtl: 300 });
    if (stored !== null) {
      this.counters.kvHits++;
      this.touch(fullKey, stored);
      return stored;
    }
    this.counters.misses++;
    const value = await compute();
    if (!keep(value)) return value;
    this.touch(fullKey, value);
    defer(kv.put(fullKey, JSON.stringify(value), { expirationTtl: Math.max(60, this.options.ttlSeconds) }));
    return value;
  }

  stats(): CacheStats {
    return { ...this.counters, entries: this.memory.size };
  }

  /** Drops the in-isolate layer (tests and benchmarks measure the KV layer alone with it). */
  clearMemory(): void {
    this.memory.clear();
  }

  private touch(key: string, value: T): void {
    // A Map iterates in insertion order: re-inserting marks the entry most recently used.
    this.memory.delete(key);
    this.memory.set(key, value);
    if (this.memory.size > this.options.maxEntries) {
      const oldest = this.memory.keys().next().value;
      if (oldest !== undefined) this.memory.delete(oldest);
    }
  }
}
