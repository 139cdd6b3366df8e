/**
 * The contract of a rate limiter object (one per team, one per client address): what the worker
 * asks of it. The object (src/durable/rate-limiter.ts) implements it.
 */

/** What a take is held to: the object's own budget (its team's, or its client address's), and a team token's. */
export interface TakeLimits {
  /** Requests per minute of the object's own budget; 0 for none. */
  perMinute: number;
  token?: { digest: string; perMinute: number };
}

export type RateDecision = { allowed: true; granted: number } | { allowed: false; limit: "own" | "token"; retryAfterSeconds: number };

export interface RateLimiterObject extends Rpc.DurableObjectBranded {
  take(limits: TakeLimits, wanted?: number): RateDecision;
}
