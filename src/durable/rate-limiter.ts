import { DurableObject } from "cloudflare:workers";
import type { RateLimits } from "../config";
import type { Env } from "../env";

export type RateDecision = { allowed: true; granted: number } | { allowed: false; limit: "team" | "token"; retryAfterSeconds: number };

interface Bucket {
  /** Requests that may be made now; refills at the limit's rate up to a minute's worth. */
  available: number;
  updatedAt: number;
}

const MINUTE_MS = 60_000;

/** Buckets kept before idle ones are dropped (a bucket idle for a minute is full: same as none). */
const MAX_BUCKETS = 1_000;

/**
 * A team's request budget, one object per team: a token bucket for the team and one per team
 * token (sent directly or behind an OAuth grant), each holding a minute's worth of requests and
 * refilling continuously. The limits come with each call, so the object needs no configuration.
 *
 * The buckets live in memory only, so a request costs this one call and no storage write: the
 * object is evicted only after idling, and a minute's idling refills every bucket anyway.
 */
export class RateLimiterDO extends DurableObject<Env> {
  private readonly buckets = new Map<string, Bucket>();

  /**
   * Takes up to `wanted` requests from the buckets (at least one, or a refusal): an isolate spends
   * what it is granted without asking again, so a busy team costs one call per batch, not per request.
   */
  take(tokenDigest: string | null, limits: RateLimits, wanted = 1): RateDecision {
    const now = Date.now();
    if (this.buckets.size > MAX_BUCKETS) this.dropIdle(now);
    const team = limits.teamPerMinute > 0 ? this.refill("team", limits.teamPerMinute, now) : undefined;
    const token = tokenDigest !== null && limits.tokenPerMinute > 0 ? this.refill(`token:${tokenDigest}`, limits.tokenPerMinute, now) : undefined;
    if (team && team.available < 1) return refusal("team", team, limits.teamPerMinute);
    if (token && token.available < 1) return refusal("token", token, limits.tokenPerMinute);
    const granted = Math.floor(Math.min(wanted, team?.available ?? wanted, token?.available ?? wanted));
    if (team) team.available -= granted;
    if (token) token.available -= granted;
    return { allowed: true, granted };
  }

  private refill(key: string, perMinute: number, now: number): Bucket {
    const bucket = this.buckets.get(key) ?? { available: perMinute, updatedAt: now };
    bucket.available = Math.min(perMinute, bucket.available + ((now - bucket.updatedAt) * perMinute) / MINUTE_MS);
    bucket.updatedAt = now;
    this.buckets.set(key, bucket);
    return bucket;
  }

  private dropIdle(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.updatedAt >= MINUTE_MS) this.buckets.delete(key);
    }
  }
}

function refusal(limit: "team" | "token", bucket: Bucket, perMinute: number): RateDecision {
  const waitMs = ((1 - bucket.available) * MINUTE_MS) / perMinute;
  return { allowed: false, limit, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1_000)) };
}
