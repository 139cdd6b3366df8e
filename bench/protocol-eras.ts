/**
 * protocol-eras: /mcp before and after its move to Cloudflare's `createMcpHandler` (issue 16),
 * each protocol era measured, and the agents handler against the MCP SDK's own.
 *
 * Four workers under `wrangler dev` at once, from frozen snapshots:
 * - before: the project at BEFORE, the last commit on the v1 SDK (a fresh `Server` and
 *   `WebStandardStreamableHTTPServerTransport` per request), bundled from `git archive` beside
 *   today's node_modules (lib/snapshot.ts refuses it unless every package in its bundle is
 *   installed at the version that commit's lockfile had);
 * - agents: the project as it is (agents' `createMcpHandler`, an SDK v2 `Server` per request);
 * - sdk: the same code with `agents/mcp/server` swapped at bundle time for
 *   bench/sdk-handler/agents-mcp-server.ts (the SDK's own `createMcpHandler`, `legacy:
 *   "stateless"`), checked to have taken the alias;
 * - the baseline (bench/baseline): the bare v1 SDK and its `consult` tool, as B1 and B2 use it.
 * Each era through its own client: legacy, the v1 SDK client (the 2025 handshake); modern, the
 * v2 client pinned to 2026-07-28. The revision each client negotiated is checked and recorded.
 *
 * B1 (mcp-overhead's): chat on a new thread and chat continuing a thread (1-20 exchanges), fake
 * Gemini at 0 ms, sequential calls, with the baseline's consult (a new object / the same object)
 * in the same round. Every kind is a group of its own, so the rounds rotate all of them through
 * every position (lib/interleave.ts), order checked. A variant's B1 is the median of its paired
 * ratios to consult; a comparison is the ratio of two variants' B1s.
 * B2 (concurrency's scenario): N clients per variant, connected beforehand, call chat at once (a
 * new thread each), the upstream taking 2000 ms to the first byte; the baseline's consult is a
 * side too, for reference. A cycle runs every side once, cycles interleaved. Wall time, first
 * progress, errors, CPU per process; comparisons paired per cycle.
 * Each comparison comes with its 95 % bootstrap interval over rounds (B1) or cycles (B2), and the
 * direct paired ratio of the two variants' latencies beside it.
 *
 * Targets (the issue's, fixed before measuring): legacy lane after / before ≤ 1.05; modern /
 * legacy on the agents handler ≤ 1.00 ("no slower"); agents / sdk ≤ 1.05 in each era; each on
 * B1 new thread, B1 continuation and the wall at N=256; errors = 0.
 */
import type { WorkerProcess } from "../test/support/worker-process.ts";
import { callAtOnce, cpuRow, errorsOf, firstProgressRow, roundForJson, wallRow, type AtOnceRound } from "./lib/at-once.ts";
import { CHAT_PROMPT, continuationIds } from "./lib/chat-calls.ts";
import { wranglerProcesses, type ProcessGroup } from "./lib/cpu.ts";
import { checkBalanced, interleavedOrder, measureInterleaved } from "./lib/interleave.ts";
import { closeAll, connect, connectMany, connectModern, MODERN_REVISION, negotiatedRevision, timedCall, type AnyClient } from "./lib/mcp.ts";
import { geminiVars, startBaseline, startConfig, startProject, startUpstream, startVariant } from "./lib/processes.ts";
import { sampleRow, type Row } from "./lib/results.ts";
import { runBenchmark } from "./lib/run.ts";
import { commitConfig } from "./lib/snapshot.ts";
import { bootstrapInterval, median, pairedRatio } from "./lib/stats.ts";
import { check, type TargetCheck } from "./lib/targets.ts";

/** The last commit before the migration (issue 16): /mcp on the v1 SDK. */
const BEFORE = "4571d9e";
const FIRST_BYTE_MS = 2_000;
/** Far beyond any healthy round at N=256: a call this slow is stuck. */
const CALL_TIMEOUT_MS = 60_000;
const WALL_TARGET_N = 256;

type Variant = "before" | "agentsLegacy" | "agentsModern" | "sdkLegacy" | "sdkModern";
const VARIANTS: Variant[] = ["before", "agentsLegacy", "agentsModern", "sdkLegacy", "sdkModern"];
const LABELS: Record<Variant, string> = {
  before: `before (${BEFORE}, v1 SDK), legacy`,
  agentsLegacy: "agents handler, legacy",
  agentsModern: "agents handler, modern",
  sdkLegacy: "SDK handler, legacy",
  sdkModern: "SDK handler, modern",
};
const isModern = (variant: Variant) => variant.endsWith("Modern");

type Case = "New" | "Continue";
type Kind = `${Variant}${Case}` | "consultNew" | "consultSame";
const CONSULT: Record<Case, Kind> = { New: "consultNew", Continue: "consultSame" };
const KINDS: Kind[] = [...VARIANTS.map((v): Kind => `${v}New`), "consultNew", ...VARIANTS.map((v): Kind => `${v}Continue`), "consultSame"];

interface Comparison {
  name: string;
  a: Variant;
  b: Variant;
  /** The issue's bound on a / b; none for a comparison reported for information. */
  target?: number;
}
const COMPARISONS: Comparison[] = [
  { name: "legacy lane, after / before", a: "agentsLegacy", b: "before", target: 1.05 },
  { name: "agents handler, modern / legacy", a: "agentsModern", b: "agentsLegacy", target: 1.0 },
  { name: "legacy lane, agents / sdk handler", a: "agentsLegacy", b: "sdkLegacy", target: 1.05 },
  { name: "modern lane, agents / sdk handler", a: "agentsModern", b: "sdkModern", target: 1.05 },
  { name: "sdk handler, modern / legacy", a: "sdkModern", b: "sdkLegacy" },
];

type Side = Variant | "baseline";
const SIDES: Side[] = [...VARIANTS, "baseline"];

interface Round extends AtOnceRound {
  side: Side;
  cycle: number;
}

const rounded = (x: number) => Math.round(x * 1000) / 1000;
const pick = (values: readonly number[], indices?: readonly number[]) => (indices ? indices.map((i) => values[i] as number) : values);

/** A comparison's figure, its 95 % bootstrap interval and (B1) the direct latency ratio, as a result row. */
function comparisonRow(
  metric: string,
  comparison: Comparison,
  figure: (indices?: readonly number[]) => number,
  count: number,
  direct: number | undefined,
  target: number | undefined,
): { row: Row; data: Record<string, number> } {
  const value = rounded(figure());
  const { low, high } = bootstrapInterval(count, figure);
  return {
    row: {
      metric: `${metric}: ${comparison.name} (95 % interval ${low.toFixed(3)}-${high.toFixed(3)}${direct !== undefined ? `; latency, paired: ${direct.toFixed(3)}×` : ""})`,
      unit: "x",
      value,
      ...(target !== undefined ? { target: check(`${metric}: ${comparison.name}`, "<=", target, value, "x") } : {}),
    },
    data: { value, low: rounded(low), high: rounded(high), ...(direct !== undefined ? { directLatencyRatio: rounded(direct) } : {}) },
  };
}

await runBenchmark({
  name: "protocol-eras",
  title: `Protocol eras: /mcp before the migration (${BEFORE}), on agents' handler and on the SDK's, legacy and 2026-07-28 clients`,
  description:
    `The project at ${BEFORE} (v1 SDK), as it is (agents' createMcpHandler) and with the SDK's own createMcpHandler swapped in at bundle time, with the baseline, under wrangler dev at once; ` +
    "legacy clients (v1 SDK) and modern ones (v2, pinned to 2026-07-28). B1: chat new thread and continuation (fake Gemini at 0 ms) vs the baseline's consult, sequential, interleaved rounds; " +
    "B2: N clients per variant calling chat at once, upstream at 2000 ms, interleaved cycles.",
  budgetSeconds: { full: 660, quick: 110 },
  async run(ctx) {
    ctx.log(`bundling the project at ${BEFORE}`);
    const beforeConfig = commitConfig(BEFORE);
    const upstream = await startUpstream();
    await upstream.setLatency({ firstByteMs: 0, chunkDelayMs: 0 });
    ctx.log("starting the project before the migration, as it is, on the SDK's handler, and the baseline");
    const [before, agents, sdk, baseline] = await Promise.all([
      startConfig(beforeConfig, geminiVars(upstream.url)),
      startProject(geminiVars(upstream.url)),
      startVariant("sdk", geminiVars(upstream.url)),
      startBaseline({ UPSTREAM_URL: upstream.url }),
    ]);
    const workers: Record<Side, WorkerProcess> = { before, agentsLegacy: agents, agentsModern: agents, sdkLegacy: sdk, sdkModern: sdk, baseline };
    const connectTo = (side: Side, name: string): Promise<AnyClient> =>
      side !== "baseline" && isModern(side) ? connectModern(workers[side].mcpUrl, name) : connect(workers[side].mcpUrl, name);

    // B1: one client per side, sequential calls.
    const clients: Partial<Record<Side, AnyClient>> = {};
    let b1: { samples: Record<Kind, number[]>; orders: Kind[][] };
    try {
      for (const side of SIDES) clients[side] = await connectTo(side, `bench-${side}`);
      const one = clients as Record<Side, AnyClient>;
      const revisions = Object.fromEntries(SIDES.map((side) => [side, negotiatedRevision(one[side])]));
      ctx.data["negotiatedRevisions"] = revisions;
      for (const variant of VARIANTS) {
        const revision = revisions[variant] ?? "none";
        if (isModern(variant) ? revision !== MODERN_REVISION : !revision.startsWith("2025-")) {
          throw new Error(`${LABELS[variant]}: the client negotiated ${revision}, not the era measured`);
        }
      }
      const continuation = Object.fromEntries(VARIANTS.map((v) => [v, continuationIds(one[v])])) as Record<Variant, () => Promise<string>>;
      const call = async (kind: Kind) => {
        if (kind === "consultNew") return timedCall(one.baseline, "consult", { prompt: CHAT_PROMPT });
        if (kind === "consultSame") return timedCall(one.baseline, "consult", { prompt: CHAT_PROMPT, thread: "bench-thread" });
        const variant = kind.replace(/(New|Continue)$/, "") as Variant;
        if (kind.endsWith("New")) return timedCall(one[variant], "chat", { prompt: CHAT_PROMPT, model: "flash" });
        return timedCall(one[variant], "chat", { prompt: CHAT_PROMPT, continuation_id: await continuation[variant]() });
      };
      b1 = await measureInterleaved(
        ctx,
        KINDS.map((kind) => [kind]),
        call,
        { warmups: ctx.pick(20, 4), rounds: ctx.pick(400, 16), budgetMs: ctx.pick(240_000, 25_000), label: "B1 rounds" },
      );
    } finally {
      await closeAll(Object.values(clients));
    }
    const { samples, orders } = b1;
    ctx.data["orderBalance"] = checkBalanced(
      orders,
      COMPARISONS.flatMap(({ a, b }) => (["New", "Continue"] as Case[]).flatMap((c) => [[`${a}${c}`, `${b}${c}`] as const, [`${a}${c}`, CONSULT[c]] as const])),
    );
    ctx.data["samplesMs"] = samples;

    // B2: N clients per side, all calling at once; a cycle runs each side once.
    const n = ctx.pick(WALL_TARGET_N, 64);
    const cycles = ctx.pick(6, 2);
    await upstream.setLatency({ firstByteMs: FIRST_BYTE_MS, chunkDelayMs: 0 });
    const fakeUpstream: ProcessGroup = { label: "fake upstream (node)", pids: upstream.pid ? [upstream.pid] : [] };
    const processes = Object.fromEntries(SIDES.map((side) => [side, [...wranglerProcesses(workers[side].port), fakeUpstream]])) as Record<Side, ProcessGroup[]>;
    const rounds: Round[] = [];
    const cycleOrders: Side[][] = [];
    const groups: Partial<Record<Side, AnyClient[]>> = {};
    try {
      for (const side of SIDES) {
        ctx.log(`B2: connecting ${n} clients to ${side}`);
        groups[side] = await connectMany(workers[side].mcpUrl, n, 32, (_url, name) => connectTo(side, name));
      }
      const options = { progress: true, timeoutMs: CALL_TIMEOUT_MS };
      for (const cycle of ctx.bounded(cycles, ctx.pick(300_000, 45_000), "B2 cycles")) {
        const order = interleavedOrder(SIDES.map((side) => [side]), cycle);
        cycleOrders.push(order);
        for (const side of order) {
          const measured = await callAtOnce(
            groups[side] ?? [],
            (client) =>
              side === "baseline"
                ? timedCall(client, "consult", { prompt: CHAT_PROMPT }, options)
                : timedCall(client, "chat", { prompt: CHAT_PROMPT, model: "flash" }, options),
            processes[side],
          );
          const r: Round = { side, cycle, ...measured };
          rounds.push(r);
          if (r.errors > 0) ctx.note(`B2 N=${n} ${side} cycle ${cycle}: ${r.errors} of ${n} calls failed (${r.errorSamples.join(" | ")})`);
          ctx.log(`B2 N=${n} ${side}: wall ${Math.round(r.wallMs)} ms, errors ${r.errors}, first progress median ${Math.round(median(r.firstProgressMs))} ms`);
          await upstream.clearRequests();
        }
      }
    } finally {
      await closeAll(Object.values(groups).flat());
    }
    ctx.data["b2OrderBalance"] = checkBalanced(
      cycleOrders,
      COMPARISONS.map(({ a, b }) => [a, b] as const),
    );
    ctx.data["b2Rounds"] = rounds.map(roundForJson);

    // Rows: each variant's B1 and B2, then every comparison.
    const roundsOf = (side: Side) => rounds.filter((r) => r.side === side).sort((x, y) => x.cycle - y.cycle);
    const walls = (side: Side) => roundsOf(side).map((r) => r.wallMs);
    const b1Of = (variant: Variant, c: Case, indices?: readonly number[]) => pairedRatio(pick(samples[`${variant}${c}`], indices), pick(samples[CONSULT[c]], indices));
    const rows: Row[] = [];
    for (const c of ["New", "Continue"] as Case[]) {
      const what = c === "New" ? "new thread" : "continuation (threads of 1-20 exchanges)";
      for (const variant of VARIANTS) {
        rows.push(sampleRow(`B1 ${what}: chat, ${LABELS[variant]}`, "ms", samples[`${variant}${c}`], { ratio: b1Of(variant, c), baseline: "baseline consult, paired (B1)" }));
      }
      rows.push(sampleRow(`B1 ${what}: baseline consult (${c === "New" ? "a new" : "the same"} DO)`, "ms", samples[CONSULT[c]]));
    }
    for (const side of SIDES) {
      const label = `B2 N=${n} ${side === "baseline" ? "baseline consult" : LABELS[side]}`;
      const b2 = side === "baseline" ? {} : { ratio: pairedRatio(walls(side), walls("baseline")), baseline: "baseline consult, paired per cycle" };
      rows.push(wallRow(label, roundsOf(side), b2), firstProgressRow(label, roundsOf(side)), cpuRow(label, roundsOf(side)));
    }
    const comparisons: Record<string, Record<string, unknown>> = {};
    const roundCount = Math.min(...KINDS.map((kind) => samples[kind].length));
    for (const comparison of COMPARISONS) {
      const { a, b } = comparison;
      const b1Comparison = (c: Case) =>
        comparisonRow(
          `B1 ${c === "New" ? "new thread" : "continuation"}`,
          comparison,
          (indices) => b1Of(a, c, indices) / b1Of(b, c, indices),
          roundCount,
          pairedRatio(samples[`${a}${c}`], samples[`${b}${c}`]),
          comparison.target,
        );
      const [newThread, continued] = [b1Comparison("New"), b1Comparison("Continue")];
      const wallRatio = (indices?: readonly number[]) => pairedRatio(pick(walls(a), indices), pick(walls(b), indices));
      // The wall's targets are at N=256 (the issue's scenario); a quick run's N=64 is informative.
      const wall = comparisonRow(
        `B2 wall at N=${n}`,
        comparison,
        wallRatio,
        Math.min(walls(a).length, walls(b).length),
        undefined,
        n === WALL_TARGET_N ? comparison.target : undefined,
      );
      rows.push(newThread.row, continued.row, wall.row);
      comparisons[comparison.name] = { b1NewThread: newThread.data, b1Continuation: continued.data, b2Wall: wall.data };
    }
    ctx.data["comparisons"] = comparisons;
    if (n !== WALL_TARGET_N) ctx.note(`B2 ran at N=${n}, not ${WALL_TARGET_N} (quick run): its wall targets are checked in full runs only.`);
    ctx.note(
      "B1 comparisons are ratios of two variants' B1 (each the median of its paired ratios to the baseline's consult in the same round); B2 wall comparisons are medians of per-cycle paired ratios. " +
        "The intervals are 95 % bootstrap intervals over the rounds (B1) or cycles (B2) of this run; they do not include the run-to-run drift of a shared machine.",
    );
    const baselineErrors = errorsOf(roundsOf("baseline"));
    if (baselineErrors > 0) ctx.note(`B2: the baseline's consult had ${baselineErrors} errors (not a target).`);
    const targets: TargetCheck[] = [check(`B2 errors at N=${n}, every variant`, "==", 0, errorsOf(rounds.filter((r) => r.side !== "baseline")), "errors")];
    return { rows, targets };
  },
});
