/**
 * engine-split: did the engine split (src/tools/engine/) make chat's overhead over the bare SDK
 * (B1: mcp-overhead's new-thread and continuation ratios) worse? The code before it, commit
 * PRE_SPLIT of this repository, is bundled from `git archive` (lib/snapshot.ts) and served under
 * `wrangler dev` beside today's code and the baseline, all in one run, calls interleaved.
 *
 * Like with like: the pre-split code stored an exchange AFTER its reply (waitUntil); today's stores
 * it BEFORE the reply. Raw latencies would credit the old code with the write it deferred, so each
 * version's B1 is taken against the baseline `consult` that stores in the same order (today's:
 * `store: "before_reply"`; the pre-split code's: `store: "after_reply"`), both one row
 * in a new SQLite Durable Object (new thread) or the same one (continuation), after the same
 * upstream call. The target is on the ratio of the two B1s; the raw latency ratio is reported
 * beside it. That ratio sits within a few percent of 1, as close as a shared machine's noise, so
 * it is measured over enough rounds to resolve 5 %: its 95 % bootstrap interval over the rounds
 * must be at most 0.05 wide (checked, as its own target).
 */
import { CHAT_PROMPT, continuationIds } from "./lib/chat-calls.ts";
import { checkBalanced, measureInterleaved } from "./lib/interleave.ts";
import { connect, timedCall, type Client } from "./lib/mcp.ts";
import { geminiVars, startBaseline, startConfig, startProject, startUpstream } from "./lib/processes.ts";
import { sampleRow, type Row } from "./lib/results.ts";
import { runBenchmark } from "./lib/run.ts";
import { commitConfig } from "./lib/snapshot.ts";
import { bootstrapInterval, pairedRatio } from "./lib/stats.ts";
import { check } from "./lib/targets.ts";

/** The last commit before the engine split (d5b4cc1). */
const PRE_SPLIT = "50a8b34";
/** The widest 95 % interval of a B1 ratio that still tells 1.00 from 1.05. */
const RESOLUTION = 0.05;

type Kind = "nowNew" | "preNew" | "baseNewBefore" | "baseNewAfter" | "nowContinue" | "preContinue" | "baseSameBefore" | "baseSameAfter";

/** Each version next to its own baseline (measured next to each other, alternating order). */
const GROUPS: Kind[][] = [
  ["nowNew", "baseNewBefore"],
  ["preNew", "baseNewAfter"],
  ["nowContinue", "baseSameBefore"],
  ["preContinue", "baseSameAfter"],
];

await runBenchmark({
  name: "engine-split",
  title: `Engine split: chat overhead (B1) today vs before the split (${PRE_SPLIT})`,
  description:
    `Today's chat and the pre-split code's (commit ${PRE_SPLIT}, bundled from git) under wrangler dev at once, each against the baseline's consult storing in the same order as that code ` +
    "(today: before the reply; pre-split: after it), new thread and continuation, sequential calls from one SDK client each, interleaved rounds (ABBA, rotated); fake Gemini at 0 ms.",
  budgetSeconds: { full: 900, quick: 90 },
  async run(ctx) {
    ctx.log(`bundling the project at ${PRE_SPLIT}`);
    const preConfig = commitConfig(PRE_SPLIT);
    const upstream = await startUpstream();
    await upstream.setLatency({ firstByteMs: 0, chunkDelayMs: 0 });
    ctx.log("starting today's project, the pre-split project and the baseline");
    const [now, pre, baseline] = await Promise.all([
      startProject(geminiVars(upstream.url)),
      startConfig(preConfig, geminiVars(upstream.url)),
      startBaseline({ UPSTREAM_URL: upstream.url }),
    ]);
    const clients = { now: await connect(now.mcpUrl), pre: await connect(pre.mcpUrl), baseline: await connect(baseline.mcpUrl) };
    const continuation = { now: continuationIds(clients.now), pre: continuationIds(clients.pre) };
    const chat = async (client: Client, continuationId?: () => Promise<string>) =>
      timedCall(client, "chat", continuationId ? { prompt: CHAT_PROMPT, continuation_id: await continuationId() } : { prompt: CHAT_PROMPT, model: "flash" });
    const consult = (store: "before_reply" | "after_reply", thread?: string) =>
      timedCall(clients.baseline, "consult", { prompt: CHAT_PROMPT, store, ...(thread ? { thread } : {}) });
    const call = (kind: Kind) => {
      switch (kind) {
        case "nowNew":
          return chat(clients.now);
        case "preNew":
          return chat(clients.pre);
        case "nowContinue":
          return chat(clients.now, continuation.now);
        case "preContinue":
          return chat(clients.pre, continuation.pre);
        case "baseNewBefore":
          return consult("before_reply");
        case "baseNewAfter":
          return consult("after_reply");
        case "baseSameBefore":
          return consult("before_reply", "bench-before");
        case "baseSameAfter":
          return consult("after_reply", "bench-after");
      }
    };
    const { samples, orders } = await measureInterleaved(ctx, GROUPS, call, {
      warmups: ctx.pick(20, 5),
      // 200 rounds gave intervals about 0.1 wide; the width shrinks with the square root of the rounds.
      rounds: ctx.pick(1_000, 20),
      budgetMs: ctx.pick(720_000, 40_000),
      label: "measurement",
    });
    await Promise.all(Object.values(clients).map((client) => client.close()));
    ctx.data["orderBalance"] = checkBalanced(orders, [...GROUPS.map(([a, b]) => [a!, b!] as const), ["nowNew", "preNew"], ["nowContinue", "preContinue"]]);
    ctx.data["samplesMs"] = samples;

    // Over the rounds numbered `rounds` (all by default): each B1, and today's over the pre-split code's.
    const b1Of = (kind: Kind, baseline: Kind, rounds?: readonly number[]) =>
      pairedRatio(
        rounds ? rounds.map((r) => samples[kind][r]!) : samples[kind],
        rounds ? rounds.map((r) => samples[baseline][r]!) : samples[baseline],
      );
    const regression = {
      newThread: (rounds?: readonly number[]) => b1Of("nowNew", "baseNewBefore", rounds) / b1Of("preNew", "baseNewAfter", rounds),
      continuation: (rounds?: readonly number[]) => b1Of("nowContinue", "baseSameBefore", rounds) / b1Of("preContinue", "baseSameAfter", rounds),
    };
    const b1 = {
      nowNew: b1Of("nowNew", "baseNewBefore"),
      preNew: b1Of("preNew", "baseNewAfter"),
      nowContinue: b1Of("nowContinue", "baseSameBefore"),
      preContinue: b1Of("preContinue", "baseSameAfter"),
    };
    const roundCount = orders.length;
    const intervals = { newThread: bootstrapInterval(roundCount, regression.newThread), continuation: bootstrapInterval(roundCount, regression.continuation) };
    ctx.data["b1"] = b1;
    ctx.data["intervals95"] = intervals;
    const rounded = (x: number) => Math.round(x * 1000) / 1000;
    const row = (metric: string, kind: Kind, extra: Partial<Row> = {}): Row => sampleRow(metric, "ms", samples[kind], extra);
    const newRegression = regression.newThread();
    const continueRegression = regression.continuation();
    const regressionRows = (label: string, value: number, interval: { low: number; high: number }): Row[] => [
      {
        metric: `${label}: B1 today / B1 pre-split (95 % interval over ${roundCount} rounds ${interval.low.toFixed(3)}-${interval.high.toFixed(3)})`,
        unit: "x",
        value: rounded(value),
        target: check(`B1 ${label}: today / pre-split`, "<=", 1.05, rounded(value), "x"),
      },
      {
        metric: `${label}: width of that 95 % interval (resolves 5 % when at most ${RESOLUTION})`,
        unit: "",
        value: rounded(interval.high - interval.low),
        target: check(`B1 ${label}: today / pre-split, 95 % interval width`, "<=", RESOLUTION, rounded(interval.high - interval.low)),
      },
    ];
    ctx.note(
      `Like with like: the pre-split code (${PRE_SPLIT}) stored an exchange after its reply, today's before it; each version's B1 is against the baseline storing in its order. ` +
        `Raw latency, today / pre-split (paired): new thread ${rounded(pairedRatio(samples.nowNew, samples.preNew))}×, continuation ${rounded(pairedRatio(samples.nowContinue, samples.preContinue))}× (includes the write now made before the reply).`,
    );
    return {
      rows: [
        row("new thread: chat today (stored before the reply)", "nowNew", { ratio: b1.nowNew, baseline: "baseline consult, stored before the reply (B1 today)" }),
        row("new thread: baseline consult, fetch then 1 write to a new DO before the reply", "baseNewBefore"),
        row(`new thread: chat at ${PRE_SPLIT} (stored after the reply)`, "preNew", { ratio: b1.preNew, baseline: "baseline consult, stored after the reply (B1 pre-split)" }),
        row("new thread: baseline consult, fetch, reply, then 1 write to a new DO (waitUntil)", "baseNewAfter"),
        ...regressionRows("new thread", newRegression, intervals.newThread),
        row("continuation: chat today (thread of 1-20 exchanges)", "nowContinue", { ratio: b1.nowContinue, baseline: "baseline consult, same DO, before the reply (B1 today)" }),
        row("continuation: baseline consult, fetch then 1 write to the same DO before the reply", "baseSameBefore"),
        row(`continuation: chat at ${PRE_SPLIT} (thread of 1-20 exchanges)`, "preContinue", { ratio: b1.preContinue, baseline: "baseline consult, same DO, after the reply (B1 pre-split)" }),
        row("continuation: baseline consult, fetch, reply, then 1 write to the same DO (waitUntil)", "baseSameAfter"),
        ...regressionRows("continuation", continueRegression, intervals.continuation),
      ],
    };
  },
});
