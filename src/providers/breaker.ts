import type { Config } from "../core/config";
import type { ResolvedModel } from "./descriptor";
import type { ProviderId } from "./types";
import type { BreakerSettings, BreakerSnapshot } from "../core/rpc/breaker";
import type { Env } from "../core/env";

/** How long a breaker state read from its Durable Object is trusted before a background refresh. */
export const BREAKER_CACHE_TTL_MS = 1_500;

/**
 * What a finished call tells the breaker: "failure" for retryable faults only; for any answer
 * (the provider is up) "reply" when the model itself answered, "refusal" when the provider
 * answered with an error retrying cannot fix (a made-up model name gets one); "neutral" when the
 * caller cancelled.
 */
export type BreakerOutcome = "reply" | "refusal" | "failure" | "neutral";

export interface Admission {
  admitted: boolean;
  /** This call is the single trial call of a half-open breaker; its outcome decides the state. */
  probe: boolean;
  snapshot?: BreakerSnapshot;
}

export interface BreakerDeps {
  env: Env;
  config: Config;
  team: string;
  waitUntil(promise: Promise<unknown>): void;
}

/** Providers that serve names outside their registry: one bad model must not pause the others. */
const PER_MODEL: ReadonlySet<ProviderId> = new Set(["openrouter", "custom"]);

/**
 * The breaker a call to a model goes through: one per team and provider (and per model for the
 * catch-all providers), so one team's failures never pause a provider for another team.
 */
export function breakerName(team: string, model: ResolvedModel): string {
  const provider = model.provider.id;
  return PER_MODEL.has(provider) ? `${team}:${provider}:${model.capabilities.modelName.toLowerCase()}` : `${team}:${provider}`;
}

interface Entry {
  snapshot: BreakerSnapshot;
  fetchedAt: number;
  /** Bumped by every local change, so an older answer from the object does not overwrite it. */
  version: number;
}

/** Breakers by name (see breakerName). */
interface View {
  entries: Map<string, Entry>;
  refreshing: Set<string>;
  /** First reads, shared by the isolate's concurrent callers. */
  loading: Map<string, Promise<void>>;
}

// Per env object (one per isolate in production, as with configOf); a fresh env is a fresh view.
const views = new WeakMap<Env, View>();

/**
 * The isolate's view of the providers' circuit breakers. Reads are synchronous against a cache
 * refreshed in the background, so a call through a closed breaker never waits for the Durable
 * Object; outcomes update the local view at once and reach the object through waitUntil. Only
 * an isolate's first look at a provider and recovery (asking for the single probe of a
 * half-open breaker) wait for the object.
 */
export class ProviderBreakers {
  private readonly view: View;
  private readonly settings: BreakerSettings;

  constructor(private readonly deps: BreakerDeps) {
    let view = views.get(deps.env);
    if (!view) {
      view = { entries: new Map(), refreshing: new Set(), loading: new Map() };
      views.set(deps.env, view);
    }
    this.view = view;
    this.settings = {
      failureThreshold: deps.config.breaker.failureThreshold,
      cooldownMs: deps.config.breaker.cooldownMs,
      // A probe cannot outlive its call's deadline; after that its caller is presumed gone.
      probeLeaseMs: deps.config.providerCall.deadlineMs,
    };
  }

  /**
   * Reads the state of breakers this isolate has never seen, once: a new isolate must not send
   * calls through a breaker that is open elsewhere. Known breakers cost nothing here.
   */
  async load(names: readonly string[]): Promise<void> {
    await Promise.all(
      names
        .filter((name) => !this.view.entries.has(name))
        .map((name) => {
          let loading = this.view.loading.get(name);
          if (!loading) {
            // An unreachable object reads as closed: it must not block calls.
            loading = this.call(name, (stub) => stub.state(this.settings))
              .then(
                (snapshot) => this.store(name, snapshot, this.version(name)),
                () => this.store(name, { state: "closed", consecutiveFailures: 0 }, this.version(name)),
              )
              .finally(() => this.view.loading.delete(name));
            this.view.loading.set(name, loading);
          }
          return loading;
        }),
    );
  }

  /** The cached state (refreshed in the background when stale); undefined when never seen. */
  snapshot(name: string): BreakerSnapshot | undefined {
    const entry = this.view.entries.get(name);
    if (!entry || Date.now() - entry.fetchedAt > BREAKER_CACHE_TTL_MS) this.refresh(name);
    return entry?.snapshot;
  }

  /** True while calls must not be made: open and cooling down, or another caller is probing. */
  isOpen(name: string): boolean {
    const snapshot = this.snapshot(name);
    if (!snapshot || snapshot.state === "closed") return false;
    return Date.now() < (snapshot.retryAt ?? 0);
  }

  /**
   * Whether a call may go ahead. Closed (or unknown) admits at once; otherwise the object decides,
   * granting one probe across all isolates. An unreachable object admits: it must not block calls.
   */
  async admit(name: string): Promise<Admission> {
    const snapshot = this.snapshot(name);
    if (!snapshot || snapshot.state === "closed") return { admitted: true, probe: false };
    if (Date.now() < (snapshot.retryAt ?? 0)) return { admitted: false, probe: false, snapshot };
    const version = this.version(name);
    try {
      const result = await this.call(name, (stub) => stub.tryProbe(this.settings));
      this.store(name, result.snapshot, version);
      return { admitted: result.granted, probe: result.probe, snapshot: result.snapshot };
    } catch {
      return { admitted: true, probe: false };
    }
  }

  report(name: string, outcome: BreakerOutcome, probe: boolean): void {
    const now = Date.now();
    const current = this.view.entries.get(name)?.snapshot ?? { state: "closed", consecutiveFailures: 0 };
    let next: BreakerSnapshot;
    let send: ((stub: BreakerStub) => Promise<BreakerSnapshot>) | undefined;
    if (outcome === "reply" || outcome === "refusal") {
      const replied = outcome === "reply";
      // Most calls succeed through a closed breaker with nothing to reset and nothing new to
      // learn: no write at all. The first reply tells the object its state is worth keeping.
      if (!probe && current.state === "closed" && current.consecutiveFailures === 0 && (current.answered || !replied)) return;
      next = { state: "closed", consecutiveFailures: 0, ...(current.answered || replied ? { answered: true } : {}) };
      send = (stub) => stub.recordSuccess(this.settings, replied);
    } else if (outcome === "failure") {
      const failures = current.consecutiveFailures + 1;
      const opens = probe || current.state !== "closed" || failures >= this.settings.failureThreshold;
      const known = current.answered ? { answered: true } : {};
      next = opens
        ? { state: "open", consecutiveFailures: failures, retryAt: now + this.settings.cooldownMs, ...known }
        : { state: "closed", consecutiveFailures: failures, ...known };
      send = (stub) => stub.recordFailure(this.settings);
    } else {
      if (!probe) return;
      next = { ...current, state: "half_open", retryAt: now };
      send = (stub) => stub.releaseProbe(this.settings);
    }
    const version = this.version(name) + 1;
    this.view.entries.set(name, { snapshot: next, fetchedAt: now, version });
    const request = this.call(name, send).then(
      (snapshot) => this.store(name, snapshot, version),
      () => undefined,
    );
    this.deps.waitUntil(request);
  }

  private refresh(name: string): void {
    if (this.view.refreshing.has(name)) return;
    this.view.refreshing.add(name);
    const version = this.version(name);
    const request = this.call(name, (stub) => stub.state(this.settings))
      .then(
        (snapshot) => this.store(name, snapshot, version),
        () => undefined,
      )
      .finally(() => this.view.refreshing.delete(name));
    this.deps.waitUntil(request);
  }

  private store(name: string, snapshot: BreakerSnapshot, basedOn: number): void {
    if (this.version(name) !== basedOn) return;
    this.view.entries.set(name, { snapshot, fetchedAt: Date.now(), version: basedOn });
  }

  private version(name: string): number {
    return this.view.entries.get(name)?.version ?? 0;
  }

  /** An RPC to the breaker's object; a failure to even reach it becomes a rejection, never a throw. */
  private call<T>(name: string, method: (stub: BreakerStub) => Promise<T>): Promise<T> {
    return Promise.resolve().then(() => method(this.deps.env.BREAKERS.getByName(name)));
  }
}

type BreakerStub = ReturnType<Env["BREAKERS"]["getByName"]>;
