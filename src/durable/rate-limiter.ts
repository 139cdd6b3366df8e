import { DurableObject } from "cloudflare:workers";
import type { Env } from "../core/env";
import type { RateDecision, RateLimiterObject, TakeLimits } from "../core/rpc/rate-limiter";

interface Bucket {
  /** Requests that may be made now; refills at the limit's rate up to a minute's worth. */
  available: number;
  updatedAt: number;
}

const MINUTE_MS = 60_000;

/** Buckets kept before idle ones are dropped (a bucket idle for a minute is full: same as none). */
const MAX_BUCKETS = 1_000;

/**
 * A request budget, one object per team (named by the team) and one per client address (named
 * `address:<ip>`, for requests no token pays for): a token bucket of its own, and one per team
 * token (sent directly or behind an OAuth grant), each holding a minute's worth of requests and
 * refilling continuously. The limits come with each call, so the object needs no configuration.
 *
 * The buckets live in memory only, so a request costs this one call and no storage write: the
 * object is evicted only after idling, and a minute's idling refills every bucket anyway.
 */
export class RateLimiterDO extends DurableObject<Env> implements RateLimiterObject {
  private readonly buckets = new Map<string, Bucket>();

  /**
   * Takes up to `wanted` requests from the buckets (at least one, or a refusal): an isolate spends
   * what it is granted without asking again, so a busy team costs one call per batch, not per request.
   */
  take(limits: TakeLimits, wanted = 1): RateDecision {
    const now = Date.now();
    if (this.buckets.size > MAX_BUCKETS) this.dropIdle(now);
    const own = limits.perMinute > 0 ? this.refill("own", limits.perMinute, now) : undefined;
    const token = limits.token && limits.token.perMinute > 0 ? this.refill(`token:${limits.token.digest}`, limits.token.perMinute, now) : undefined;
    if (own && own.available < 1) return refusal("own", own, limits.perMinute);
    if (token && token.available < 1) return refusal("token", token, limits.token?.perMinute ?? 0);
    const granted = Math.floor(Math.min(wanted, own?.available ?? wanted, token?.available ?? wanted));
    if (own) own.available -= granted;
    if (token) token.available -= granted;
    return { allowed: true, granted };
  }

  private refill(key: string, perMinute: number, now: number): Bucket {
    const bucket = this.buckets.get(key) ?? { available: perMinute, updatedAt: now };
    // A clock that steps back refills nothing (and never drains the bucket).
    const elapsed = Math.max(0, now - bucket.updatedAt);
    bucket.available = Math.min(perMinute, bucket.available + (elapsed * perMinute) / MINUTE_MS);
    bucket.updatedAt = Math.max(now, bucket.updatedAt);
    this.buckets.set(key, bucket);
    return bucket;
  }

  private dropIdle(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.updatedAt >= MINUTE_MS) this.buckets.delete(key);
    }
  }
}

function refusal(limit: "own" | "token", bucket: Bucket, perMinute: number): RateDecision {
  const waitMs = ((1 - bucket.available) * MINUTE_MS) / perMinute;
  return { allowed: false, limit, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1_000)) };
}
