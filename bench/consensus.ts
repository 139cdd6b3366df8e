/**
 * consensus: a panel of three models consulted in parallel in one round trip.
 *
 * One `consensus` tools/call (step 1 of 1, `parallel: true`) asks three models whose fake
 * upstreams answer after 1 s, 2 s and 3 s (fake upstream faults filtered by model, with delayMs).
 * In parallel the call takes as long as the slowest model plus the server's own work; one after
 * another it would take the sum (6 s). Interleaved with it (ABBA), the reference: chat asking the
 * slowest model alone. Each consensus call is checked: one tools/call, one upstream request per
 * model, a successful verdict from each.
 */
import { checkBalanced, interleavedOrder } from "./lib/interleave.ts";
import { connect, ok, textOf, timedCall } from "./lib/mcp.ts";
import { startProject, startUpstream } from "./lib/processes.ts";
import { runBenchmark } from "./lib/run.ts";
import { summarize } from "./lib/stats.ts";
import { check } from "./lib/targets.ts";

/** Each panelist, the model id its upstream request names, and how long that upstream takes. */
const PANEL = [
  { model: "flash", stance: "for", upstreamModel: "gemini-3.8-flash", delayMs: 1_000 },
  { model: "gpt-5", stance: "against", upstreamModel: "gpt-5", delayMs: 2_000 },
  { model: "pro", stance: "neutral", upstreamModel: "gemini-3.1-pro-preview", delayMs: 3_000 },
] as const;
const SLOWEST_MS = Math.max(...PANEL.map((p) => p.delayMs));
const PROPOSAL = "Move the job queue from Redis to Postgres SKIP LOCKED.";

type Kind = "consensus" | "slowestAlone";

await runBenchmark({
  name: "consensus",
  title: "Consensus in parallel: three models answering in 1, 2 and 3 s",
  description:
    "One consensus tools/call with parallel: true over three models whose fake upstreams answer after 1 s, 2 s and 3 s, vs chat asking the 3 s model alone, interleaved (ABBA).",
  budgetSeconds: { full: 180, quick: 90 },
  async run(ctx) {
    const upstream = await startUpstream();
    await upstream.setLatency({ firstByteMs: 0, chunkDelayMs: 0 });
    const project = await startProject({ GEMINI_API_KEY: "bench-key", GEMINI_BASE_URL: upstream.url, OPENAI_API_KEY: "bench-key", OPENAI_BASE_URL: `${upstream.url}/v1` });
    const client = await connect(project.mcpUrl);
    const panel = PANEL.map(({ model, stance }) => ({ model, stance }));

    const consensus = async () => {
      await upstream.clearRequests();
      const call = ok(
        await timedCall(client, "consensus", { step: PROPOSAL, step_number: 1, total_steps: 1, next_step_required: false, findings: "", models: panel, parallel: true }),
        "consensus",
      );
      const output = JSON.parse(textOf(call.result)) as { status?: string; accumulated_responses?: Array<{ model: string; status: string }> };
      const verdicts = output.accumulated_responses ?? [];
      if (output.status !== "consensus_workflow_complete" || verdicts.length !== PANEL.length || verdicts.some((v) => v.status !== "success")) {
        throw new Error(`consensus did not complete with ${PANEL.length} verdicts in one call: ${textOf(call.result).slice(0, 400)}`);
      }
      const models = (await upstream.requests()).map((request) => request.model).sort();
      const expected = PANEL.map((p) => p.upstreamModel).sort();
      if (models.join() !== expected.join()) throw new Error(`upstream requests named ${models.join(", ")}; expected one each of ${expected.join(", ")}`);
      return call;
    };
    const slowestAlone = () => timedCall(client, "chat", { prompt: PROPOSAL, model: "pro" });
    const call = (kind: Kind) => (kind === "consensus" ? consensus() : slowestAlone().then((result) => ok(result, "chat")));

    // Warm-up at no delay (it also checks the upstream model ids the delays are keyed on).
    for (const kind of ["consensus", "slowestAlone"] as const) await call(kind);
    await upstream.fault(PANEL.map((p) => ({ model: p.upstreamModel, delayMs: p.delayMs, times: "always" as const })));

    const rounds = ctx.pick(6, 1);
    const samples: Record<Kind, number[]> = { consensus: [], slowestAlone: [] };
    const orders: Kind[][] = [];
    for (const round of ctx.bounded(rounds, ctx.pick(120_000, 40_000), "rounds")) {
      const order = interleavedOrder<Kind>([["consensus", "slowestAlone"]], round);
      orders.push(order);
      for (const kind of order) samples[kind].push((await call(kind)).ms);
      ctx.log(`round ${round + 1}/${rounds}: consensus ${Math.round(samples.consensus.at(-1)!)} ms, slowest model alone ${Math.round(samples.slowestAlone.at(-1)!)} ms`);
    }
    await client.close();
    ctx.data["orderBalance"] = checkBalanced(orders, [["consensus", "slowestAlone"]]);
    ctx.data["samplesMs"] = samples;

    const c = summarize(samples.consensus);
    const alone = summarize(samples.slowestAlone);
    const ratio = c.median / SLOWEST_MS;
    return {
      rows: [
        {
          metric: `consensus, parallel: ${PANEL.map((p) => `${p.model} ${p.delayMs / 1000} s`).join(", ")}; one tools/call`,
          unit: "ms",
          n: c.n,
          min: c.min,
          median: c.median,
          p99: c.p99,
          ratio,
          baseline: `the slowest model's ${SLOWEST_MS} ms`,
          target: check("parallel consensus / slowest model (median)", "<=", 1.1, Math.round(ratio * 1000) / 1000, "x"),
        },
        {
          metric: `reference: chat asking the slowest model alone (${SLOWEST_MS / 1000} s)`,
          unit: "ms",
          n: alone.n,
          min: alone.min,
          median: alone.median,
          p99: alone.p99,
        },
        { metric: "reference: the three models one after another (sum of their delays)", unit: "ms", value: PANEL.reduce((sum, p) => sum + p.delayMs, 0) },
      ],
    };
  },
});
