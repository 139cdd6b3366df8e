import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";

export type BreakerState = "closed" | "open" | "half_open";

/** The thresholds, sent with each call so the object needs no configuration of its own. */
export interface BreakerSettings {
  /** Consecutive retryable failures that open the breaker. */
  failureThreshold: number;
  /** How long an open breaker refuses calls before it admits a probe. */
  cooldownMs: number;
  /** How long a granted probe may stay unreported before another caller may probe (its caller may have died). */
  probeLeaseMs: number;
}

export interface BreakerSnapshot {
  state: BreakerState;
  consecutiveFailures: number;
  /**
   * When a probe can next be granted: the end of the cooldown (open), or of the running probe's
   * lease (half-open); in the past when a probe is available now. Absent when closed.
   */
  retryAt?: number;
}

interface Stored {
  state: BreakerState;
  failures: number;
  openedAt: number;
  probeStartedAt: number;
}

const CLOSED: Stored = { state: "closed", failures: 0, openedAt: 0, probeStartedAt: 0 };
const KEY = "breaker";

/**
 * The circuit breaker of one provider (one object per provider id). CLOSED counts consecutive
 * retryable failures; at the threshold it goes OPEN; after the cooldown one caller, across all
 * isolates, is granted a probe (HALF_OPEN); its success closes the breaker, its failure opens it
 * again. Every method is synchronous over the synchronous storage API, so concurrent calls are
 * serialised and exactly one probe can be granted.
 */
export class ProviderBreakerDO extends DurableObject<Env> {
  private stored: Stored;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.stored = ctx.storage.kv.get<Stored>(KEY) ?? CLOSED;
  }

  state(settings: BreakerSettings): BreakerSnapshot {
    return this.snapshot(settings);
  }

  recordSuccess(settings: BreakerSettings): BreakerSnapshot {
    // Any answer proves the provider works, including a straggler that started before it opened.
    this.save(CLOSED);
    return this.snapshot(settings);
  }

  recordFailure(settings: BreakerSettings): BreakerSnapshot {
    const now = Date.now();
    const current = this.stored;
    const failures = current.failures + 1;
    if (current.state === "closed") {
      this.save(failures >= settings.failureThreshold ? { ...CLOSED, state: "open", failures, openedAt: now } : { ...current, failures });
    } else if (current.state === "half_open") {
      this.save({ ...current, state: "open", failures, openedAt: now });
    } else {
      // A straggler failing while open does not extend the cooldown.
      this.save({ ...current, failures });
    }
    return this.snapshot(settings);
  }

  /** Asks to make a call while the breaker is not closed; granted to one caller at a time. */
  tryProbe(settings: BreakerSettings): { granted: boolean; probe: boolean; snapshot: BreakerSnapshot } {
    const now = Date.now();
    const current = this.stored;
    if (current.state === "closed") return { granted: true, probe: false, snapshot: this.snapshot(settings) };
    const free =
      current.state === "open" ? now >= current.openedAt + settings.cooldownMs : now >= current.probeStartedAt + settings.probeLeaseMs;
    if (!free) return { granted: false, probe: false, snapshot: this.snapshot(settings) };
    this.save({ ...current, state: "half_open", probeStartedAt: now });
    return { granted: true, probe: true, snapshot: this.snapshot(settings) };
  }

  /** A probe that ended without a verdict (its caller cancelled): let the next caller probe at once. */
  releaseProbe(settings: BreakerSettings): BreakerSnapshot {
    if (this.stored.state === "half_open") {
      this.save({ ...this.stored, state: "open", openedAt: Date.now() - settings.cooldownMs });
    }
    return this.snapshot(settings);
  }

  /** OPEN turns HALF_OPEN when its cooldown ends; a probe is then granted to the first caller. */
  private snapshot(settings: BreakerSettings): BreakerSnapshot {
    const { state, failures, openedAt, probeStartedAt } = this.stored;
    if (state === "closed") return { state, consecutiveFailures: failures };
    if (state === "half_open") return { state, consecutiveFailures: failures, retryAt: probeStartedAt + settings.probeLeaseMs };
    const retryAt = openedAt + settings.cooldownMs;
    return { state: Date.now() >= retryAt ? "half_open" : "open", consecutiveFailures: failures, retryAt };
  }

  private save(next: Stored): void {
    this.stored = next;
    this.ctx.storage.kv.put(KEY, next);
  }
}
