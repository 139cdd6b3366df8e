import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BREAKER_IDLE_MS, type BreakerSettings, type ProviderBreakerDO } from "../../../src/durable/breaker";
import type { Env } from "../../../src/core/env.ts";

const settings: BreakerSettings = { failureThreshold: 3, cooldownMs: 100, probeLeaseMs: 300 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let counter = 0;
/** A breaker of its own per test: objects are named, and storage lives for the whole file. */
function freshBreaker(): DurableObjectStub<ProviderBreakerDO> {
  return (env as unknown as Env).BREAKERS.getByName(`test-breaker-${++counter}`);
}

describe("ProviderBreakerDO", () => {
  it("opens after the threshold of consecutive failures; a success resets the count", async () => {
    const breaker = freshBreaker();
    expect(await breaker.state(settings)).toEqual({ state: "closed", consecutiveFailures: 0 });
    await breaker.recordFailure(settings);
    await breaker.recordFailure(settings);
    expect(await breaker.recordSuccess(settings, false)).toEqual({ state: "closed", consecutiveFailures: 0 });
    await breaker.recordFailure(settings);
    expect(await breaker.recordFailure(settings)).toEqual({ state: "closed", consecutiveFailures: 2 });
    const opened = await breaker.recordFailure(settings);
    expect(opened.state).toBe("open");
    expect(opened.consecutiveFailures).toBe(3);
    expect(opened.retryAt).toBeGreaterThan(Date.now());
    expect(await breaker.tryProbe(settings)).toMatchObject({ granted: false, probe: false });
  });

  it("turns half-open after the cooldown and grants a single probe among concurrent callers", async () => {
    const breaker = freshBreaker();
    for (let i = 0; i < settings.failureThreshold; i++) await breaker.recordFailure(settings);
    await sleep(settings.cooldownMs + 30);
    expect((await breaker.state(settings)).state).toBe("half_open");
    const answers = await Promise.all(Array.from({ length: 5 }, () => breaker.tryProbe(settings)));
    expect(answers.filter((a) => a.granted)).toHaveLength(1);
    expect(answers.filter((a) => a.granted && a.probe)).toHaveLength(1);
    expect((await breaker.state(settings)).state).toBe("half_open");
  });

  it("closes when the probe succeeds", async () => {
    const breaker = freshBreaker();
    for (let i = 0; i < settings.failureThreshold; i++) await breaker.recordFailure(settings);
    await sleep(settings.cooldownMs + 30);
    expect((await breaker.tryProbe(settings)).granted).toBe(true);
    expect(await breaker.recordSuccess(settings, true)).toEqual({ state: "closed", consecutiveFailures: 0, answered: true });
    expect(await breaker.tryProbe(settings)).toMatchObject({ granted: true, probe: false });
  });

  it("opens again, with a fresh cooldown, when the probe fails", async () => {
    const breaker = freshBreaker();
    for (let i = 0; i < settings.failureThreshold; i++) await breaker.recordFailure(settings);
    await sleep(settings.cooldownMs + 30);
    await breaker.tryProbe(settings);
    const before = Date.now();
    const reopened = await breaker.recordFailure(settings);
    expect(reopened.state).toBe("open");
    expect(reopened.retryAt).toBeGreaterThanOrEqual(before + settings.cooldownMs);
    expect((await breaker.tryProbe(settings)).granted).toBe(false);
  });

  it("lets the next caller probe at once when a probe is released, or when its lease runs out", async () => {
    const breaker = freshBreaker();
    for (let i = 0; i < settings.failureThreshold; i++) await breaker.recordFailure(settings);
    await sleep(settings.cooldownMs + 30);
    expect((await breaker.tryProbe(settings)).granted).toBe(true);
    await breaker.releaseProbe(settings);
    expect((await breaker.tryProbe(settings)).granted).toBe(true);
    // This probe's caller never reports: after the lease another caller may try.
    expect((await breaker.tryProbe(settings)).granted).toBe(false);
    await sleep(settings.probeLeaseMs + 30);
    expect((await breaker.tryProbe(settings)).granted).toBe(true);
  });

  it("keeps its state in storage across eviction once the model has replied through it", async () => {
    const breaker = freshBreaker();
    await breaker.recordSuccess(settings, true);
    for (let i = 0; i < settings.failureThreshold; i++) await breaker.recordFailure(settings);
    const stored = await runInDurableObject(breaker, (_instance, state) => state.storage.kv.get<{ state: string; failures: number }>("breaker"));
    expect(stored).toMatchObject({ state: "open", failures: 3 });
    await evictDurableObject(breaker);
    const after = await breaker.state(settings);
    expect(after).toMatchObject({ state: "open", consecutiveFailures: 3, answered: true });
  });

  it("attack: a name the model never replied through stores nothing, however it fails; its state lives in memory", async () => {
    const breaker = freshBreaker();
    for (let i = 0; i < settings.failureThreshold; i++) await breaker.recordFailure(settings);
    expect(await breaker.tryProbe(settings)).toMatchObject({ granted: false });
    await sleep(settings.cooldownMs + 30);
    expect((await breaker.tryProbe(settings)).probe).toBe(true);
    await breaker.releaseProbe(settings);
    await breaker.recordFailure(settings);
    // An error answer (a made-up model name's 400 or 404) is no reply either.
    await breaker.recordSuccess(settings, false);
    await breaker.recordFailure(settings);
    expect(await breaker.state(settings)).toEqual({ state: "closed", consecutiveFailures: 1 });
    expect(await tablesOf(breaker)).toEqual([]);
    expect(await runInDurableObject(breaker, (_instance, state) => state.storage.getAlarm())).toBeNull();
  });

  it("forgets its stored state a day after its last change", async () => {
    const breaker = freshBreaker();
    await breaker.recordSuccess(settings, true);
    const before = Date.now();
    for (let i = 0; i < settings.failureThreshold; i++) await breaker.recordFailure(settings);
    const alarm = await runInDurableObject(breaker, (_instance, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThanOrEqual(before + BREAKER_IDLE_MS);
    expect(await runDurableObjectAlarm(breaker)).toBe(true);
    expect(await runInDurableObject(breaker, (_instance, state) => state.storage.kv.get("breaker"))).toBeUndefined();
    expect(await breaker.state(settings)).toEqual({ state: "closed", consecutiveFailures: 0 });
    await evictDurableObject(breaker);
    expect(await breaker.state(settings)).toEqual({ state: "closed", consecutiveFailures: 0 });
  });

  it("gives a state stored before breakers expired its alarm when it is next loaded", async () => {
    const breaker = freshBreaker();
    await runInDurableObject(breaker, (_instance, state) => state.storage.kv.put("breaker", { state: "closed", failures: 2, openedAt: 0, probeStartedAt: 0 }));
    await evictDurableObject(breaker);
    expect(await breaker.state(settings)).toEqual({ state: "closed", consecutiveFailures: 2, answered: true });
    expect(await runInDurableObject(breaker, (_instance, state) => state.storage.getAlarm())).toBeGreaterThan(Date.now());
  });
});

/** The names of an object's tables: none means it holds no storage. */
function tablesOf(stub: DurableObjectStub<ProviderBreakerDO>): Promise<string[]> {
  return runInDurableObject(stub, (_instance, state) =>
    state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .toArray()
      .map((row) => row.name),
  );
}
