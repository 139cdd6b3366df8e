/**
 * breaker: the circuit breaker's cost when open (fail fast) and when closed (happy path).
 *
 * In-process (bench/harness, the project's modules timed inside workerd):
 *   - fail fast: callModel naming a model of a provider whose breaker is OPEN (opened by real
 *     failing calls: the fake upstream answers 503 always, PROVIDER_MAX_ATTEMPTS=1,
 *     BREAKER_FAILURE_THRESHOLD=3, BREAKER_COOLDOWN_SECONDS=3600), timed as loops (the clock
 *     inside workerd has 1 ms resolution; one call takes microseconds): the mean per call of each;
 *   - happy path: callModel (model choice and breaker in the path) vs the provider module's
 *     generate (without them), same request, fake upstream at 0 ms, alternating timed blocks of
 *     calls; their paired ratio is reported with its 95 % bootstrap interval, informative: it sits
 *     within the noise of a shared machine. What judges the breaker on this path: its bookkeeping
 *     (admit + report, a timed loop) as a share of a provider call (generate's median), and its
 *     Durable Object requests per call while the isolate's cached state is fresh, counted exactly.
 * Over loopback HTTP (the project worker, same settings): chat naming the model while its breaker
 * is open, against the `version` tool as the floor of any tool call, interleaved; and whether any
 * call leaked to the upstream while open.
 */
import { connect, textOf, timedCall } from "./lib/mcp.ts";
import { geminiVars, startHarness, startProject, startUpstream } from "./lib/processes.ts";
import type { Row } from "./lib/results.ts";
import { runBenchmark } from "./lib/run.ts";
import { bootstrapInterval, median, pairedRatio, summarize } from "./lib/stats.ts";
import { check } from "./lib/targets.ts";
import type { WorkerProcess } from "../test/support/worker-process.ts";

const MODEL = "flash";

/** The harness's count of the breaker's Durable Object requests, by RPC method. */
interface BreakerRequests {
  calls: number;
  elapsedMs: number;
  /** The isolate's first call: the state loaded, the provider's first reply reported. */
  warmUp: Record<string, number>;
  /** The `calls` calls after it, while the cached state was fresh. */
  counted: Record<string, number>;
}

async function harnessGet<T>(harness: WorkerProcess, path: string): Promise<T> {
  const response = await fetch(`${harness.url}${path}`);
  const json = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(`harness ${path}: ${json.error ?? response.status}`);
  return json;
}

await runBenchmark({
  name: "breaker",
  title: "Circuit breaker: fail fast when open, cost when closed",
  description:
    "callModel through an open breaker (in workerd, and chat over loopback HTTP); on the happy path (in workerd): callModel vs the provider's generate in alternating timed blocks, the breaker's bookkeeping as a share of a provider call, and its Durable Object requests per call, counted.",
  budgetSeconds: { full: 240, quick: 90 },
  async run(ctx) {
    const upstream = await startUpstream();
    await upstream.setLatency({ firstByteMs: 0, chunkDelayMs: 0 });
    const vars = {
      ...geminiVars(upstream.url),
      PROVIDER_MAX_ATTEMPTS: "1",
      BREAKER_FAILURE_THRESHOLD: "3",
      BREAKER_COOLDOWN_SECONDS: "3600",
    };
    ctx.log("starting the harness and project workers");
    const [harness, project] = await Promise.all([startHarness(vars), startProject(vars)]);

    // Happy path, breaker closed.
    const blocks = ctx.pick(60, 8);
    const happy = await harnessGet<{ block: number; withBreaker: number[]; direct: number[] }>(harness, `/breaker/happy?model=${MODEL}&blocks=${blocks}&block=20`);
    // ~0.5 µs a call: 200,000 calls make a loop of ~100 ms on the 1 ms clock.
    const bookkeeping = await harnessGet<{ reps: number; meanMs: number }>(harness, `/breaker/bookkeeping?model=${MODEL}&reps=${ctx.pick(200_000, 2_000)}`);
    const requests = await harnessGet<BreakerRequests>(harness, `/breaker/requests?model=${MODEL}&calls=${ctx.pick(50, 10)}`);
    const happyRatio = pairedRatio(happy.withBreaker, happy.direct);
    const happyInterval = bootstrapInterval(happy.withBreaker.length, (blocks) =>
      pairedRatio(
        blocks.map((i) => happy.withBreaker[i]!),
        blocks.map((i) => happy.direct[i]!),
      ),
    );
    const providerCallMs = median(happy.direct);
    const bookkeepingShare = (bookkeeping.meanMs / providerCallMs) * 100;
    const countedRequests = Object.values(requests.counted).reduce((sum, count) => sum + count, 0);
    ctx.log(
      `happy path: ${median(happy.withBreaker).toFixed(3)} ms with, ${providerCallMs.toFixed(3)} ms without; bookkeeping ${(bookkeeping.meanMs * 1000).toFixed(2)} µs ` +
        `(${bookkeepingShare.toFixed(3)} % of a provider call); breaker DO requests in ${requests.calls} calls: ${countedRequests}`,
    );

    // Open both breakers with real failing calls.
    await upstream.fault({ kind: "gemini", status: 503, times: "always" });
    const opened = await harnessGet<{ opened: boolean; failedCalls?: number }>(harness, `/breaker/open?model=${MODEL}`);
    if (!opened.opened) throw new Error("the harness's breaker did not open");
    const client = await connect(project.mcpUrl);
    let projectFailures = 0;
    let projectOpen = false;
    for (const _ of ctx.bounded(20, 60_000, "opening the project's breaker")) {
      const call = await timedCall(client, "chat", { prompt: "Is the provider up?", model: MODEL }, { allowToolError: true });
      if (call.error) throw new Error(`chat failed while opening the breaker: ${call.error}`);
      if (/paused/i.test(textOf(call.result))) {
        projectOpen = true;
        break;
      }
      projectFailures++;
    }
    if (!projectOpen) throw new Error(`the project's breaker did not open after ${projectFailures} failed chat calls`);
    ctx.log(`breakers open: harness after ${opened.failedCalls} failed calls, project after ${projectFailures}`);
    await upstream.clearRequests();

    // Fail fast, in workerd.
    const failFastReps = ctx.pick(1_000, 200);
    const failFast = await harnessGet<{ reps: number; loopMeansMs: number[]; wrongOutcomes: number }>(
      harness,
      `/breaker/fail-fast?model=${MODEL}&reps=${failFastReps}&loops=${ctx.pick(10, 3)}`,
    );
    if (failFast.wrongOutcomes > 0) throw new Error(`${failFast.wrongOutcomes} calls through the open breaker did not fail fast`);

    // Fail fast over loopback, interleaved with the version tool.
    const loopback = { chat: [] as number[], version: [] as number[] };
    let notFailFast = 0;
    const rounds = ctx.pick(150, 20);
    for (const i of ctx.bounded(rounds + 5, ctx.pick(90_000, 30_000), "loopback fail-fast")) {
      const order = i % 2 === 0 ? (["chat", "version"] as const) : (["version", "chat"] as const);
      for (const kind of order) {
        const call =
          kind === "chat"
            ? await timedCall(client, "chat", { prompt: "Is the provider up?", model: MODEL }, { allowToolError: true })
            : await timedCall(client, "version", {});
        if (call.error) throw new Error(`${kind} failed: ${call.error}`);
        if (kind === "chat" && !/paused/i.test(textOf(call.result))) notFailFast++;
        if (i >= 5) loopback[kind].push(call.ms); // the first 5 rounds warm up
      }
    }
    const leaked = await upstream.requestCount();
    await client.close();
    await upstream.clearFaults();
    if (notFailFast > 0) ctx.note(`${notFailFast} chat calls over loopback did not fail fast while the breaker was open.`);
    ctx.note(
      `Upstream requests while both breakers were open: ${leaked} (expected 0). The in-process clock has 1 ms resolution: fail fast is timed as loops of ${failFastReps} calls (mean per call of each loop).`,
    );

    const ff = summarize(failFast.loopMeansMs);
    const lbChat = summarize(loopback.chat);
    const lbVersion = summarize(loopback.version);
    const w = summarize(happy.withBreaker);
    const d = summarize(happy.direct);
    ctx.data["happy"] = happy;
    ctx.data["happyRatioInterval95"] = happyInterval;
    ctx.data["bookkeepingMeanMs"] = bookkeeping.meanMs;
    ctx.data["breakerRequests"] = requests;
    ctx.data["failFastInProcess"] = failFast;
    ctx.data["loopbackMs"] = loopback;
    ctx.data["upstreamRequestsWhileOpen"] = leaked;
    const rows: Row[] = [
      {
        metric: `fail fast in workerd: callModel, breaker open, mean per call (${ff.n} loops of ${failFast.reps}; p99 column: the slowest loop)`,
        unit: "ms",
        n: ff.n,
        min: ff.min,
        median: ff.median,
        p99: ff.max,
        target: check("fail-fast mean per call in workerd, slowest loop", "<", 5, Math.round(ff.max * 1000) / 1000, "ms"),
      },
      {
        metric: "fail fast over loopback: chat, breaker open",
        unit: "ms",
        n: lbChat.n,
        min: lbChat.min,
        median: lbChat.median,
        p99: lbChat.p99,
        ratio: pairedRatio(loopback.chat, loopback.version),
        baseline: "version tool",
      },
      { metric: "version tool over loopback (floor of a tool call)", unit: "ms", n: lbVersion.n, min: lbVersion.min, median: lbVersion.median, p99: lbVersion.p99 },
      {
        metric:
          `happy path in workerd: callModel (model choice and breaker in path), per call in blocks of ${happy.block}; ` +
          `paired ratio's 95 % interval over the blocks ${happyInterval.low.toFixed(3)}-${happyInterval.high.toFixed(3)}`,
        unit: "ms",
        n: w.n,
        min: w.min,
        median: w.median,
        p99: w.p99,
        ratio: happyRatio,
        baseline: "without breaker",
      },
      { metric: "happy path in workerd: provider generate (no breaker): a provider call against the fake upstream", unit: "ms", n: d.n, min: d.min, median: d.median, p99: d.p99 },
      {
        metric: "breaker bookkeeping per call (admit + report, closed), share of a provider call (the median above)",
        unit: "%",
        n: bookkeeping.reps,
        value: bookkeepingShare,
        target: check("breaker bookkeeping / provider call", "<=", 1, Math.round(bookkeepingShare * 1000) / 1000, "%"),
      },
      { metric: "breaker bookkeeping per call (admit + report, closed)", unit: "µs", n: bookkeeping.reps, value: bookkeeping.meanMs * 1000 },
      {
        metric: `breaker Durable Object requests per happy-path call while the cached state is fresh (${requests.calls} calls in ${requests.elapsedMs} ms, counted by method)`,
        unit: "",
        n: requests.calls,
        value: countedRequests / requests.calls,
        target: check("breaker DO requests per happy-path call, cached state fresh", "==", 0, countedRequests / requests.calls, "requests"),
      },
      {
        metric: `breaker Durable Object requests of an isolate's first call (state loaded, first reply reported): ${Object.entries(requests.warmUp).map(([method, count]) => `${method} ${count}`).join(", ") || "none"}`,
        unit: "",
        value: Object.values(requests.warmUp).reduce((sum, count) => sum + count, 0),
      },
      { metric: "upstream requests while the breakers were open", unit: "", value: leaked },
    ];
    return { rows };
  },
});
