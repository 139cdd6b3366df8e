/**
 * The contract of a provider's circuit breaker object (one per team and provider, or model): what
 * the worker asks of it and the shapes that cross. The object (src/durable/breaker.ts) implements it.
 */

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
  /** The model has replied through this breaker (so its state is worth keeping); absent until then. */
  answered?: boolean;
}

export interface BreakerObject extends Rpc.DurableObjectBranded {
  state(settings: BreakerSettings): BreakerSnapshot;
  recordSuccess(settings: BreakerSettings, replied: boolean): BreakerSnapshot;
  recordFailure(settings: BreakerSettings): BreakerSnapshot;
  tryProbe(settings: BreakerSettings): { granted: boolean; probe: boolean; snapshot: BreakerSnapshot };
  releaseProbe(settings: BreakerSettings): BreakerSnapshot;
}
