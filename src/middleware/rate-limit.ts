import type { MiddlewareHandler } from "hono";
import { configOf, type RateLimits } from "../config";
import type { RateDecision } from "../durable/rate-limiter";
import type { AppBindings, Env } from "../env";

/**
 * How long a grant may be spent: short, so requests an isolate was granted but did not use are
 * missed by the other isolates for at most this long.
 */
const GRANT_MS = 2_000;

/**
 * How long an isolate lets requests through while the limiter cannot be reached: a blip must not
 * fail requests, but a limiter overloaded by a flood must not leave the flood unlimited.
 */
const FAIL_OPEN_MS = 10_000;
/** When to try again after a refusal for an unreachable limiter. */
const UNREACHABLE_RETRY_SECONDS = 10;

type Refusal = Extract<RateDecision, { allowed: false }> | { allowed: false; limit: "unreachable"; retryAfterSeconds: number };

/**
 * Whether an isolate's limiter answers. While it does not, requests go ahead for FAIL_OPEN_MS
 * from the first failure, then are refused until it answers again; the outage is logged once.
 */
class LimiterHealth {
  private failingSince: number | undefined;

  answered(): void {
    this.failingSince = undefined;
  }

  failed(error: unknown): RateDecision | Refusal {
    const now = Date.now();
    if (this.failingSince === undefined) {
      this.failingSince = now;
      console.error(JSON.stringify({ event: "rate_limiter_unreachable", error: String(error), failOpenSeconds: FAIL_OPEN_MS / 1_000 }));
    }
    return now - this.failingSince < FAIL_OPEN_MS
      ? { allowed: true, granted: 1 }
      : { allowed: false, limit: "unreachable", retryAfterSeconds: UNREACHABLE_RETRY_SECONDS };
  }
}

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

  async take(ask: (wanted: number) => Promise<RateDecision>, most: number, health: LimiterHealth): Promise<Refusal | undefined> {
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
        const decision = await renewal.then(
          (answer) => {
            health.answered();
            return answer;
          },
          (error: unknown) => health.failed(error),
        );
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

/** An isolate's allowances (by team and token) and its view of the limiter's health. */
interface IsolateLimits {
  allowances: Map<string, Allowance>;
  health: LimiterHealth;
}

// Per env object (one per isolate in production), as the breakers' view.
const isolates = new WeakMap<Env, IsolateLimits>();

function limitsOf(env: Env): IsolateLimits {
  let limits = isolates.get(env);
  if (!limits) {
    limits = { allowances: new Map(), health: new LimiterHealth() };
    isolates.set(env, limits);
  }
  return limits;
}

/** Takes one request from the allowance under `key`, asking the limiter when it is spent. */
function take(env: Env, key: string, ask: (wanted: number) => Promise<RateDecision>, most: number): Promise<Refusal | undefined> {
  const { allowances, health } = limitsOf(env);
  let allowance = allowances.get(key);
  if (!allowance) {
    allowance = new Allowance();
    allowances.set(key, allowance);
  }
  return allowance.take(ask, most, health);
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
 * is 429 with Retry-After; while the limiter cannot be reached, past a short grace, 503 with Retry-After.
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
    const refusal = await take(
      c.env,
      `${team}:${tokenDigest ?? ""}`,
      (wanted) => c.env.RATE_LIMITER.getByName(team).take(tokenDigest, limits, wanted),
      largestGrant(limits, tokenDigest !== null),
    );
    if (!refusal) return next();
    const retryAfter = { "retry-after": String(refusal.retryAfterSeconds) };
    if (refusal.limit === "unreachable") {
      const message = `The rate limiter cannot be reached, so requests are refused for now. Retry in ${refusal.retryAfterSeconds} s.`;
      return c.json({ error: "rate_limiter_unavailable", message }, 503, retryAfter);
    }
    const message =
      refusal.limit === "team"
        ? `Team '${team}' has made its ${limits.teamPerMinute} requests of the minute (RATE_LIMIT_PER_MINUTE). Retry in ${refusal.retryAfterSeconds} s.`
        : `This token has made its ${limits.tokenPerMinute} requests of the minute (RATE_LIMIT_PER_TOKEN_PER_MINUTE). Retry in ${refusal.retryAfterSeconds} s.`;
    return c.json({ error: "rate_limited", message }, 429, retryAfter);
  };
}
