import type { MiddlewareHandler } from "hono";
import { configOf } from "../config";
import type { AppBindings } from "../env";

/**
 * Requests per minute per team (RATE_LIMIT_PER_MINUTE) and per team token
 * (RATE_LIMIT_PER_TOKEN_PER_MINUTE), counted by the team's RateLimiterDO: one call per request,
 * none when both limits are 0. Over a limit the answer is 429 with Retry-After.
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
    const decision = await c.env.RATE_LIMITER.getByName(team).take(tokenDigest, limits);
    if (decision.allowed) return next();
    const message =
      decision.limit === "team"
        ? `Team '${team}' has made its ${limits.teamPerMinute} requests of the minute (RATE_LIMIT_PER_MINUTE). Retry in ${decision.retryAfterSeconds} s.`
        : `This token has made its ${limits.tokenPerMinute} requests of the minute (RATE_LIMIT_PER_TOKEN_PER_MINUTE). Retry in ${decision.retryAfterSeconds} s.`;
    return c.json({ error: "rate_limited", message }, 429, { "retry-after": String(decision.retryAfterSeconds) });
  };
}
