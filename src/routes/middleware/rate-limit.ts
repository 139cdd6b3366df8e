import type { Context, MiddlewareHandler } from "hono";
import { configOf } from "../../core/config.ts";
import type { RateDecision, TakeLimits } from "../../durable/rate-limiter.ts";
import type { AppBindings, Env } from "../../core/env.ts";
import { clientAddress } from "./client-address.ts";

type AppContext = Context<AppBindings>;

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

/** Allowances an isolate keeps (one per team token, and per client address seen) before dropping idle ones. */
const MAX_ALLOWANCES = 10_000;

type Refusal = { limit: "own" | "token" | "unreachable"; retryAfterSeconds: number };

/**
 * Whether an isolate's limiter answers. While it does not, requests go ahead for FAIL_OPEN_MS
 * from the first failure, then are refused until it answers again; the outage is logged once.
 */
class LimiterHealth {
  private failingSince: number | undefined;

  answered(): void {
    this.failingSince = undefined;
  }

  failed(error: unknown): RateDecision | (Refusal & { allowed: false }) {
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
 * An isolate's allowance for one budget (a team and token, or a client address): requests
 * granted by the limiter and spent here. An isolate that is not busy asks for one at a time
 * (requests spread over many isolates, and an unspent grant is lost to the others); one that
 * spends its grant before it expires asks for twice as many the next time, up to `most`.
 * Concurrent requests share one renewal, so a burst cannot take more than it spends. A refusal
 * holds until its Retry-After without asking again, so a flood past its limit costs the
 * limiter nothing more.
 */
class Allowance {
  private granted = 0;
  private remaining = 0;
  private expiresAt = 0;
  private waiting = 0;
  private renewal: Promise<unknown> | undefined;
  private refused: { limit: "own" | "token"; until: number } | undefined;

  /** The refusal in force now, known without asking the limiter. */
  knownRefusal(now = Date.now()): Refusal | undefined {
    if (!this.refused || this.refused.until <= now) return undefined;
    return { limit: this.refused.limit, retryAfterSeconds: Math.ceil((this.refused.until - now) / 1_000) };
  }

  /** Nothing granted, refused or asked for now: dropping it loses nothing. */
  isIdle(now: number): boolean {
    return this.renewal === undefined && this.expiresAt <= now && (this.refused?.until ?? 0) <= now;
  }

  async take(ask: (wanted: number) => Promise<RateDecision>, most: number, health: LimiterHealth): Promise<Refusal | undefined> {
    for (;;) {
      const now = Date.now();
      const known = this.knownRefusal(now);
      if (known) return known;
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
        if (!decision.allowed) {
          if (decision.limit !== "unreachable") this.refused = { limit: decision.limit, until: Date.now() + decision.retryAfterSeconds * 1_000 };
          return { limit: decision.limit, retryAfterSeconds: decision.retryAfterSeconds };
        }
        this.granted = decision.granted;
        this.remaining = decision.granted;
        this.expiresAt = Date.now() + GRANT_MS;
      } finally {
        this.renewal = undefined;
      }
    }
  }
}

/** An isolate's allowances (by team and token, and by client address) and its view of the limiter's health. */
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

function allowanceOf(env: Env, key: string): Allowance {
  const { allowances } = limitsOf(env);
  let allowance = allowances.get(key);
  if (!allowance) {
    if (allowances.size >= MAX_ALLOWANCES) {
      const now = Date.now();
      for (const [other, held] of allowances) if (held.isIdle(now)) allowances.delete(other);
    }
    allowance = new Allowance();
    allowances.set(key, allowance);
  }
  return allowance;
}

/** A twentieth of the smaller active limit: a busy isolate asks the limiter about 20 times a minute. */
function largestGrant(...perMinute: number[]): number {
  return Math.max(1, Math.floor(Math.min(...perMinute.filter((limit) => limit > 0)) / 20));
}

function unreachable(c: AppContext, refusal: Refusal): Response {
  const message = `The rate limiter cannot be reached, so requests are refused for now. Retry in ${refusal.retryAfterSeconds} s.`;
  return c.json({ error: "rate_limiter_unavailable", message }, 503, { "retry-after": String(refusal.retryAfterSeconds) });
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
    const { teamPerMinute, tokenPerMinute } = configOf(c.env).rateLimits;
    const tokenDigest = c.get("tokenDigest");
    const tokenLimited = tokenDigest !== undefined && tokenPerMinute > 0;
    if (teamPerMinute === 0 && !tokenLimited) return next();
    const team = c.get("team");
    const limits: TakeLimits = { perMinute: teamPerMinute, ...(tokenLimited ? { token: { digest: tokenDigest, perMinute: tokenPerMinute } } : {}) };
    const refusal = await allowanceOf(c.env, `${team}:${tokenDigest ?? ""}`).take(
      (wanted) => c.env.RATE_LIMITER.getByName(team).take(limits, wanted),
      largestGrant(teamPerMinute, tokenLimited ? tokenPerMinute : 0),
      limitsOf(c.env).health,
    );
    if (!refusal) return next();
    if (refusal.limit === "unreachable") return unreachable(c, refusal);
    const message =
      refusal.limit === "own"
        ? `Team '${team}' has made its ${teamPerMinute} requests of the minute (RATE_LIMIT_PER_MINUTE). Retry in ${refusal.retryAfterSeconds} s.`
        : `This token has made its ${tokenPerMinute} requests of the minute (RATE_LIMIT_PER_TOKEN_PER_MINUTE). Retry in ${refusal.retryAfterSeconds} s.`;
    return c.json({ error: "rate_limited", message }, 429, { "retry-after": String(refusal.retryAfterSeconds) });
  };
}

/**
 * The budget of the request's client address, by the name of its RateLimiterDO and allowance
 * (one budget for requests without a client address). Team ids hold no colon: no clash.
 */
function addressBudget(c: AppContext): string {
  return `address:${clientAddress(c) ?? ""}`;
}

/**
 * Takes one request from the budget of the request's client address
 * (RATE_LIMIT_PER_ADDRESS_PER_MINUTE), which pays for what no token pays for: OAuth client
 * registrations and authorization pages, and failed authentications. Counted by the address's
 * RateLimiterDO (`address:<ip>`). A response when refused: 429, or 503 for an unreachable limiter.
 */
export async function takeForAddress(c: AppContext): Promise<Response | undefined> {
  const perMinute = configOf(c.env).rateLimits.addressPerMinute;
  if (perMinute === 0) return undefined;
  const budget = addressBudget(c);
  const refusal = await allowanceOf(c.env, budget).take(
    (wanted) => c.env.RATE_LIMITER.getByName(budget).take({ perMinute }, wanted),
    largestGrant(perMinute),
    limitsOf(c.env).health,
  );
  return refusal && tooManyFromAddress(c, refusal);
}

/** Whether this isolate knows the client address to be past its budget: refused without asking anything. */
export function refusedAddress(c: AppContext): Response | undefined {
  const refusal = allowanceOf(c.env, addressBudget(c)).knownRefusal();
  return refusal && tooManyFromAddress(c, refusal);
}

function tooManyFromAddress(c: AppContext, refusal: Refusal): Response {
  if (refusal.limit === "unreachable") return unreachable(c, refusal);
  const message =
    `This address has made its ${configOf(c.env).rateLimits.addressPerMinute} requests of the minute without a valid token ` +
    `(sign-in steps and failed authentications; RATE_LIMIT_PER_ADDRESS_PER_MINUTE). Retry in ${refusal.retryAfterSeconds} s.`;
  return c.json({ error: "rate_limited", message }, 429, { "retry-after": String(refusal.retryAfterSeconds) });
}

/** Middleware: each request is paid for by its client address's budget (takeForAddress). */
export function addressRateLimit(): MiddlewareHandler<AppBindings> {
  return async (c, next) => (await takeForAddress(c)) ?? next();
}
