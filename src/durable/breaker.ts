import { DurableObject } from "cloudflare:workers";
import type { Env } from "../core/env";
import type { BreakerObject, BreakerSettings, BreakerSnapshot, BreakerState } from "../core/rpc/breaker";

interface Stored {
  state: BreakerState;
  failures: number;
  openedAt: number;
  probeStartedAt: number;
  answered: boolean;
}

const CLOSED: Stored = { state: "closed", failures: 0, openedAt: 0, probeStartedAt: 0, answered: false };
const KEY = "breaker";

/**
 * How long a breaker's stored state outlives its last change: a day, longer than any cooldown or
 * probe lease (an hour at most), so nothing still in force is forgotten.
 */
export const BREAKER_IDLE_MS = 24 * 60 * 60 * 1_000;

/**
 * The circuit breaker of one provider (one object per provider id). CLOSED counts consecutive
 * retryable failures; at the threshold it goes OPEN; after the cooldown one caller, across all
 * isolates, is granted a probe (HALF_OPEN); its success closes the breaker, its failure opens it
 * again. Every method is synchronous over the synchronous storage API, so concurrent calls are
 * serialised and exactly one probe can be granted.
 *
 * Storage: an object is named by whatever model a caller asks for (OpenRouter and the custom
 * endpoint take any name), so it stores its state only once the model has replied through it;
 * until then the state lives in memory, for as long as the object does. What it stores is
 * deleted by an alarm a day after its last change.
 */
export class ProviderBreakerDO extends DurableObject<Env> implements BreakerObject {
  private stored: Stored;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const stored = ctx.storage.kv.get<Partial<Stored>>(KEY);
    // A state stored before breakers expired was stored for a reason, and has no alarm yet.
    if (stored && stored.answered === undefined) void ctx.storage.setAlarm(Date.now() + BREAKER_IDLE_MS);
    this.stored = stored ? { ...CLOSED, ...stored, answered: true } : CLOSED;
  }

  state(settings: BreakerSettings): BreakerSnapshot {
    return this.snapshot(settings);
  }

  /**
   * The provider answered: the breaker closes. `replied`: the model itself answered (not an
   * error from the provider, which a made-up model name gets), which makes its state worth keeping.
   */
  recordSuccess(settings: BreakerSettings, replied: boolean): BreakerSnapshot {
    // Any answer proves the provider works, including a straggler that started before it opened.
    this.save({ ...CLOSED, answered: replied || this.stored.answered });
    return this.snapshot(settings);
  }

  recordFailure(settings: BreakerSettings): BreakerSnapshot {
    const now = Date.now();
    const current = this.stored;
    const failures = current.failures + 1;
    if (current.state === "closed") {
      this.save(failures >= settings.failureThreshold ? { ...current, state: "open", failures, openedAt: now } : { ...current, failures });
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

  /** A day without a change: the state is forgotten, as if the object had never been used. */
  override async alarm(): Promise<void> {
    this.stored = CLOSED;
    await this.ctx.storage.deleteAll();
  }

  /** OPEN turns HALF_OPEN when its cooldown ends; a probe is then granted to the first caller. */
  private snapshot(settings: BreakerSettings): BreakerSnapshot {
    const { state, failures, openedAt, probeStartedAt, answered } = this.stored;
    const known = answered ? { answered } : {};
    if (state === "closed") return { state, consecutiveFailures: failures, ...known };
    if (state === "half_open") return { state, consecutiveFailures: failures, retryAt: probeStartedAt + settings.probeLeaseMs, ...known };
    const retryAt = openedAt + settings.cooldownMs;
    return { state: Date.now() >= retryAt ? "half_open" : "open", consecutiveFailures: failures, retryAt, ...known };
  }

  /** Keeps `next` in memory, and in storage (until a day after this change) once the model has replied. */
  private save(next: Stored): void {
    this.stored = next;
    if (!next.answered) return;
    this.ctx.storage.kv.put(KEY, next);
    void this.ctx.storage.setAlarm(Date.now() + BREAKER_IDLE_MS);
  }
}
