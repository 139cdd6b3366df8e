import type { MiddlewareHandler } from "hono";
import { configOf, type RateLimits } from "../config";
import type { AppBindings, Env } from "../env";

/** Requests an isolate was granted and may still spend, by team and token. */
interface Lease {
  remaining: number;
  expiresAt: number;
}

/**
 * How long a grant may be spent: short, so requests an isolate was granted but did not use are
 * missed by the other isolates for at most this long.
 */
const LEASE_MS = 2_000;

// Per env object (one per isolate in production), as the breakers' view.
const leases = new WeakMap<Env, Map<string, Lease>>();

/** A twentieth of the smaller limit per grant: a busy isolate asks the object about 20 times a minute at most. */
function leaseSize(limits: RateLimits, token: boolean): number {
  const active = [limits.teamPerMinute, ...(token ? [limits.tokenPerMinute] : [])].filter((limit) => limit > 0);
  return Math.max(1, Math.floor(Math.min(...active) / 20));
}

/**
 * Requests per minute per team (RATE_LIMIT_PER_MINUTE) and per team token
 * (RATE_LIMIT_PER_TOKEN_PER_MINUTE), counted by the team's RateLimiterDO, which grants an isolate
 * a small batch of requests at a time (none asked when both limits are 0). Over a limit the answer
 * is 429 with Retry-After.
 *
 * Not the Workers rate-limiting binding: its limit and period are fixed in wrangler.toml rather
 * than read from this configuration, it counts per Cloudflare location (approximately), and it
 * does not say when the next request may go, which Retry-After needs.
 */
export function rateLimit(): MiddlewareHandler<AppBindings> {
  return async (c, next) => {
    const limits = configOf(c.env).rateLimits;
    const tokenDigest = c.get("tokenDigest") ?? null;
    if (limits.teamPerMinute === 0 && (limits.tokenPerMinute === 0 || tokenDigest === null)) return next();
    const team = c.get("team");
    let isolate = leases.get(c.env);
    if (!isolate) {
      isolate = new Map();
      leases.set(c.env, isolate);
    }
    const key = `${team}:${tokenDigest ?? ""}`;
    const now = Date.now();
    const lease = isolate.get(key);
    if (lease && lease.remaining > 0 && lease.expiresAt > now) {
      lease.remaining -= 1;
      return next();
    }
    const decision = await c.env.RATE_LIMITER.getByName(team).take(tokenDigest, limits, leaseSize(limits, tokenDigest !== null));
    if (decision.allowed) {
      isolate.set(key, { remaining: decision.granted - 1, expiresAt: now + LEASE_MS });
      return next();
    }
    const message =
      decision.limit === "team"
        ? `Team '${team}' has made its ${limits.teamPerMinute} requests of the minute (RATE_LIMIT_PER_MINUTE). Retry in ${decision.retryAfterSeconds} s.`
        : `This token has made its ${limits.tokenPerMinute} requests of the minute (RATE_LIMIT_PER_TOKEN_PER_MINUTE). Retry in ${decision.retryAfterSeconds} s.`;
    return c.json({ error: "rate_limited", message }, 429, { "retry-after": String(decision.retryAfterSeconds) });
  };
}
