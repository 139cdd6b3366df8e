/**
 * mcp-overhead: what the project adds to one model call over the bare MCP SDK.
 *
 * Project `chat` (model "flash": Gemini through GEMINI_BASE_URL → the fake upstream answering at
 * once) against the baseline worker's `upstream` tool (one fetch to the same fake upstream), each
 * through a connected SDK Client, sequential calls, interleaved in rotating order. The baseline's
 * `echo` (one write to a SQLite Durable Object; with `fresh`, to a new object each time, as the
 * project creates one object per conversation thread) and the project's `version` tool (no model,
 * no storage) are references for the fixed costs of a tool call on each side.
 *
 * Where the project's time goes is measured inside workerd with bench/harness (/attribution):
 * the whole MCP request for chat and its parts, each as the mean of a timed loop.
 */
import { connect, ok, timedCall, type Client } from "./lib/mcp.ts";
import { geminiVars, startBaseline, startHarness, startProject, startUpstream } from "./lib/processes.ts";
import type { Row } from "./lib/results.ts";
import { runBenchmark } from "./lib/run.ts";
import { median, pairedRatio, summarize } from "./lib/stats.ts";
import { check } from "./lib/targets.ts";

const PROMPT = "In one sentence: why do circuit breakers help when a model provider is down?";

type Kind = "chat" | "version" | "upstream" | "echo" | "echoNew";

await runBenchmark({
  name: "mcp-overhead",
  title: "MCP overhead: project chat vs the bare SDK",
  description:
    "Sequential tool calls from one connected SDK client each, interleaved in rotating order: project chat (flash, fake Gemini at 0 ms) vs the baseline's upstream tool (one fetch to the same fake upstream).",
  budgetSeconds: { full: 300, quick: 90 },
  async run(ctx) {
    const upstream = await startUpstream();
    await upstream.setLatency({ firstByteMs: 0, chunkDelayMs: 0 });
    ctx.log("starting the project and baseline workers");
    const [project, baseline, harness] = await Promise.all([
      startProject(geminiVars(upstream.url)),
      startBaseline({ UPSTREAM_URL: upstream.url }),
      startHarness({ ...geminiVars(upstream.url), MAX_CONVERSATION_TURNS: "1000" }),
    ]);
    const projectClient = await connect(project.mcpUrl);
    const baselineClient = await connect(baseline.mcpUrl);

    const call = (kind: Kind) => {
      const client: Client = kind === "chat" || kind === "version" ? projectClient : baselineClient;
      if (kind === "chat") return timedCall(client, "chat", { prompt: PROMPT, model: "flash" });
      if (kind === "version") return timedCall(client, "version", {});
      if (kind === "upstream") return timedCall(client, "upstream", { prompt: PROMPT });
      if (kind === "echoNew") return timedCall(client, "echo", { text: "bench", fresh: true });
      return timedCall(client, "echo", { text: "bench" });
    };
    const kinds: Kind[] = ["chat", "upstream", "version", "echo", "echoNew"];

    const warmups = ctx.pick(20, 5);
    ctx.log(`warm-up: ${warmups} calls of each`);
    for (const i of ctx.bounded(warmups, 60_000, "warm-up")) {
      for (const kind of kinds) ok(await call(kind), `warm-up ${kind} #${i}`);
    }

    const rounds = ctx.pick(200, 20);
    ctx.log(`measuring: ${rounds} rounds of ${kinds.join(", ")} in rotating order`);
    const samples: Record<Kind, number[]> = { chat: [], version: [], upstream: [], echo: [], echoNew: [] };
    for (const round of ctx.bounded(rounds, ctx.pick(150_000, 30_000), "measurement")) {
      // Rotate the order so no kind always follows the same one (caches, GC, timers).
      const order = kinds.map((_, i) => kinds[(i + round) % kinds.length] as Kind);
      for (const kind of order) samples[kind].push(ok(await call(kind), `${kind} round ${round}`).ms);
    }
    await projectClient.close();
    await baselineClient.close();

    // Inside workerd: the parts of a chat call (each a mean over a timed loop), repeated.
    type Attribution = { ms: Record<string, number>; deferredMs: Record<string, number> };
    const attributions: Attribution[] = [];
    for (const _ of ctx.bounded(ctx.pick(5, 1), 60_000, "attribution")) {
      const response = await fetch(`${harness.url}/attribution?reps=${ctx.pick(40, 10)}`);
      const json = (await response.json()) as Attribution & { error?: string };
      if (!response.ok) throw new Error(`harness /attribution: ${json.error ?? response.status}`);
      attributions.push(json);
    }
    const part = (key: string) => median(attributions.map((a) => a.ms[key] ?? Number.NaN));
    const deferredPart = (key: string) => median(attributions.map((a) => a.deferredMs[key] ?? Number.NaN));
    ctx.data["attribution"] = attributions;

    const chat = summarize(samples.chat);
    const ratio = pairedRatio(samples.chat, samples.upstream);
    ctx.data["samplesMs"] = samples;
    ctx.data["ratioOfMedians"] = chat.median / summarize(samples.upstream).median;
    const row = (metric: string, kind: Kind, extra: Partial<Row> = {}): Row => {
      const s = summarize(samples[kind]);
      return { metric, unit: "ms", n: s.n, min: s.min, median: s.median, p99: s.p99, ...extra };
    };
    return {
      rows: [
        row("chat, project (flash, fake upstream 0 ms)", "chat", {
          ratio,
          baseline: "baseline upstream",
          target: check("chat / baseline upstream", "<=", 1.5, Math.round(ratio * 1000) / 1000, "x"),
        }),
        row("upstream tool, baseline (bare SDK + 1 fetch)", "upstream"),
        row("version tool, project (no model, no storage)", "version", {
          ratio: pairedRatio(samples.version, samples.echo),
          baseline: "baseline echo",
        }),
        row("echo tool, baseline (1 write, same SQLite DO)", "echo"),
        row("echo tool, baseline (1 write, new SQLite DO each call)", "echoNew", {
          ratio: pairedRatio(samples.echoNew, samples.echo),
          baseline: "same-DO echo",
        }),
        { metric: "in workerd: whole MCP request, chat (new thread)", unit: "ms", n: attributions.length, value: part("mcpChat") },
        { metric: "  then deferred (waitUntil: team index)", unit: "ms", n: attributions.length, value: deferredPart("mcpChat") },
        { metric: "  part: the chat tool without the MCP transport (runTool)", unit: "ms", n: attributions.length, value: part("runToolChat") },
        { metric: "  part: argument check (argumentSchema + safeParse)", unit: "ms", n: attributions.length, value: part("argumentParse") },
        { metric: "  part: createThread (new Durable Object + rows)", unit: "ms", n: attributions.length, value: part("createThread") },
        { metric: "    of which: first read of a new object (creation, schema)", unit: "ms", n: attributions.length, value: part("newObjectRead") },
        { metric: "    compare: first call to a new object without SQL tables (breaker)", unit: "ms", n: attributions.length, value: part("newBreakerObject") },
        { metric: "  part: callModel (flash, streamed, fake upstream 0 ms)", unit: "ms", n: attributions.length, value: part("callModel") },
        { metric: "  part: SDK Server constructor, default validator (Ajv per server)", unit: "ms", n: attributions.length, value: part("serverDefaultValidator") },
        { metric: "  same with one shared validator", unit: "ms", n: attributions.length, value: part("serverSharedValidator") },
        { metric: "in workerd: appendTurns on an existing thread (a continuation)", unit: "ms", n: attributions.length, value: part("appendTurns") },
        { metric: "in workerd: whole MCP request, version tool", unit: "ms", n: attributions.length, value: part("mcpVersion") },
      ],
    };
  },
});
