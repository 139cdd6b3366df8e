/**
 * Cloudflare's list prices for what bench/cost.ts counts, Workers Paid plan, US dollars per
 * million operations beyond the plan's included amounts (which are ignored: the figure is the
 * marginal cost of a scenario). The list prices Cloudflare published as of PRICES_DATE (the
 * Durable Objects page re-read that day; the others as published through 2025, not re-read
 * here, offline): check them against the pages named, and update figures and date together.
 *
 * Not counted, so not priced: Workers CPU time, Durable Object duration (GB-s), storage
 * (GB-month), data transfer (none is billed).
 */
export const PRICES_DATE = "2026-12-05";

export interface Price {
  usdPerMillion: number;
  source: string;
}

const WORKERS = "https://developers.cloudflare.com/workers/platform/pricing/";
const DURABLE_OBJECTS = "https://developers.cloudflare.com/durable-objects/platform/pricing/";
const KV = "https://developers.cloudflare.com/kv/platform/pricing/";
const R2 = "https://developers.cloudflare.com/r2/pricing/";

export const PRICES = {
  /** Standard usage model: requests (CPU time is billed apart and not counted here). */
  workerRequests: { usdPerMillion: 0.3, source: WORKERS },
  /** Every RPC method call on a stub is its own session and one request; so is a fetch or an alarm. */
  durableObjectRequests: { usdPerMillion: 0.15, source: DURABLE_OBJECTS },
  /** SQLite storage backend; the key-value API of a SQLite-backed object is billed as rows too. */
  sqlRowsRead: { usdPerMillion: 0.001, source: DURABLE_OBJECTS },
  sqlRowsWritten: { usdPerMillion: 1.0, source: DURABLE_OBJECTS },
  kvReads: { usdPerMillion: 0.5, source: KV },
  /** Writes, deletes and lists are each billed at this price. */
  kvWrites: { usdPerMillion: 5.0, source: KV },
  r2ClassA: { usdPerMillion: 4.5, source: R2 },
  r2ClassB: { usdPerMillion: 0.36, source: R2 },
  /** Subrequests (outbound fetches) are not billed as such on Workers; counted for the limits. */
  subrequests: { usdPerMillion: 0, source: WORKERS },
} as const satisfies Record<string, Price>;

export type PricedCount = keyof typeof PRICES;

/** US dollars for `count` operations of each kind. */
export function costUsd(counts: Record<PricedCount, number>): number {
  return (Object.keys(PRICES) as PricedCount[]).reduce((sum, kind) => sum + (counts[kind] * PRICES[kind].usdPerMillion) / 1e6, 0);
}
