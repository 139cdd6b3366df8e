import type { Env } from "../core/env";
import type { RateDecision, TakeLimits } from "../core/rpc/rate-limiter";

/**
 * The worker's side of the rate limiters (RateLimiterDO): an isolate's allowances, granted by a
 * budget's object a batch at a time, and its view of whether the limiters answer. Used by the
 * routes for request budgets and by the MCP layer for model calls.
 */

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

export type Refusal = { limit: "own" | "token" | "unreachable"; retryAfterSeconds: number };

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
export function largestGrant(...perMinute: number[]): number {
  return Math.max(1, Math.floor(Math.min(...perMinute.filter((limit) => limit > 0)) / 20));
}


/**
 * Takes one from a budget: the allowance of this isolate named `allowance`, renewed from the
 * RateLimiterDO named `object` under `limits`, at most `most` at a time. A refusal, or undefined.
 */
export function takeOne(env: Env, budget: { allowance: string; object: string; limits: TakeLimits; most: number }): Promise<Refusal | undefined> {
  return allowanceOf(env, budget.allowance).take((wanted) => env.RATE_LIMITER.getByName(budget.object).take(budget.limits, wanted), budget.most, limitsOf(env).health);
}

/** The refusal this isolate knows to be in force for an allowance, without asking anything. */
export function knownRefusal(env: Env, allowance: string): Refusal | undefined {
  return allowanceOf(env, allowance).knownRefusal();
}
