import type { MiddlewareHandler } from "hono";
import { configOf, type RateLimits } from "../config";
import type { RateDecision } from "../durable/rate-limiter";
import type { AppBindings, Env } from "../env";

/**
 * How long a grant may be spent: short, so requests an isolate was granted but did not use are
 * missed by the other isolates for at most this long.
 */
const GRANT_MS = 2_000;

type Refusal = Extract<RateDecision, { allowed: false }>;

/**
 * An isolate's allowance for one team and token: requests granted by the team's limiter and
 * spent here. An isolate that is not busy asks for one at a time (requests spread over many
 * isolates, and an unspent grant is lost to the others); one that spends its grant before it
 * expires asks for twice as many the next time, up to `most`. Concurrent requests share one
 * renewal, so a burst cannot take more than it spends.
 */
class Allowance {
  private granted = 0;
  private remaining = 0;
  private expiresAt = 0;
  private waiting = 0;
  private renewal: Promise<unknown> | undefined;

  async take(ask: (wanted: number) => Promise<RateDecision>, most: number): Promise<Refusal | undefined> {
    for (;;) {
      const now = Date.now();
      if (this.remaining > 0 && this.expiresAt > now) {
        this.remaining -= 1;
        return undefined;
      }
      if (this.renewal) {
        this.waiting += 1;
        await this.renewal.catch(() => undefined);
        this.waiting -= 1;
        continue;
      }
      const busy = this.granted > 0 && this.expiresAt > now;
      const wanted = Math.min(most, Math.max(busy ? this.granted * 2 : 1, this.waiting + 1));
      const renewal = ask(wanted);
      this.renewal = renewal;
      try {
        // An unreachable limiter must not take the server down with it: the request goes ahead.
        const decision = await renewal.catch((error: unknown): RateDecision => {
          console.error(JSON.stringify({ event: "rate_limiter_unreachable", error: String(error) }));
          return { allowed: true, granted: 1 };
        });
        if (!decision.allowed) return decision;
        this.granted = decision.granted;
        this.remaining = decision.granted;
        this.expiresAt = Date.now() + GRANT_MS;
      } finally {
        this.renewal = undefined;
      }
    }
  }
}

// Per env object (one per isolate in production), as the breakers' view.
const allowances = new WeakMap<Env, Map<string, Allowance>>();

function allowanceOf(env: Env, key: string): Allowance {
  let byKey = allowances.get(env);
  if (!byKey) {
    byKey = new Map();
    allowances.set(env, byKey);
  }
  let allowance = byKey.get(key);
  if (!allowance) {
    allowance = new Allowance();
    byKey.set(key, allowance);
  }
  return allowance;
}

/** A twentieth of the smaller active limit: a busy isolate asks the limiter about 20 times a minute. */
function largestGrant(limits: RateLimits, token: boolean): number {
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
    const refusal = await allowanceOf(c.env, `${team}:${tokenDigest ?? ""}`).take(
      (wanted) => c.env.RATE_LIMITER.getByName(team).take(tokenDigest, limits, wanted),
      largestGrant(limits, tokenDigest !== null),
    );
    if (!refusal) return next();
    const message =
      refusal.limit === "team"
        ? `Team '${team}' has made its ${limits.teamPerMinute} requests of the minute (RATE_LIMIT_PER_MINUTE). Retry in ${refusal.retryAfterSeconds} s.`
        : `This token has made its ${limits.tokenPerMinute} requests of the minute (RATE_LIMIT_PER_TOKEN_PER_MINUTE). Retry in ${refusal.retryAfterSeconds} s.`;
    return c.json({ error: "rate_limited", message }, 429, { "retry-after": String(refusal.retryAfterSeconds) });
  };
}
