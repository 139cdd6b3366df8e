/**
 * mcp-overhead: what the project adds to one model call over the bare MCP SDK.
 *
 * Project `chat` (model "flash": Gemini through GEMINI_BASE_URL → the fake upstream answering at
 * once) against the baseline worker's `consult` tool, which does the essential work of one chat
 * exchange and nothing more (one row written to a SQLite Durable Object, one fetch to the same fake
 * upstream): a new thread against a write to a new object, a continuation against a write to an
 * existing one. Each side through a connected SDK Client, sequential calls, interleaved in rotating
 * order. The baseline's `upstream` tool (the fetch alone, nothing stored) is kept for reference. The baseline's
 * `echo` (one write to a SQLite Durable Object; with `fresh`, to a new object each time, as the
 * project creates one object per conversation thread) and the project's `version` tool (no model,
 * no storage) are references for the fixed costs of a tool call on each side.
 *
 * Where the project's time goes is measured inside workerd with bench/harness (/attribution):
 * the whole MCP request for chat and its parts, each as the mean of a timed loop.
 */
import { connect, ok, textOf, timedCall, type Client } from "./lib/mcp.ts";
import { geminiVars, startBaseline, startHarness, startProject, startUpstream } from "./lib/processes.ts";
import type { Row } from "./lib/results.ts";
import { runBenchmark } from "./lib/run.ts";
import { median, pairedRatio, summarize } from "./lib/stats.ts";
import { check } from "./lib/targets.ts";

const PROMPT = "In one sentence: why do circuit breakers help when a model provider is down?";

type Kind = "chat" | "chatContinue" | "consultNew" | "consultSame" | "version" | "upstream" | "echo" | "echoNew";

/** Continuations per thread before a new one is started (untimed), so history stays typical. */
const CONTINUATIONS_PER_THREAD = 20;

await runBenchmark({
  name: "mcp-overhead",
  title: "MCP overhead: project chat vs the bare SDK",
  description:
    "Sequential tool calls from one connected SDK client each, interleaved in rotating order: project chat (flash, fake Gemini at 0 ms), new thread and continuation, vs the baseline's consult tool (one SQLite DO write, new or existing object, plus one fetch to the same fake upstream).",
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

    // The continuation side: a thread continued CONTINUATIONS_PER_THREAD times, then a fresh one.
    let thread = { id: "", uses: CONTINUATIONS_PER_THREAD };
    const continuationId = async (): Promise<string> => {
      if (thread.uses >= CONTINUATIONS_PER_THREAD) {
        const started = ok(await timedCall(projectClient, "chat", { prompt: PROMPT, model: "flash" }), "new thread");
        const offer = JSON.parse(textOf(started.result)) as { continuation_offer: { continuation_id: string } };
        thread = { id: offer.continuation_offer.continuation_id, uses: 0 };
      }
      thread.uses++;
      return thread.id;
    };
    const call = async (kind: Kind) => {
      const client: Client = kind === "chat" || kind === "chatContinue" || kind === "version" ? projectClient : baselineClient;
      if (kind === "chat") return timedCall(client, "chat", { prompt: PROMPT, model: "flash" });
      if (kind === "chatContinue") return timedCall(client, "chat", { prompt: PROMPT, continuation_id: await continuationId() });
      if (kind === "consultNew") return timedCall(client, "consult", { prompt: PROMPT });
      if (kind === "consultSame") return timedCall(client, "consult", { prompt: PROMPT, thread: "bench-thread" });
      if (kind === "version") return timedCall(client, "version", {});
      if (kind === "upstream") return timedCall(client, "upstream", { prompt: PROMPT });
      if (kind === "echoNew") return timedCall(client, "echo", { text: "bench", fresh: true });
      return timedCall(client, "echo", { text: "bench" });
    };
    const kinds: Kind[] = ["chat", "consultNew", "chatContinue", "consultSame", "upstream", "version", "echo", "echoNew"];

    const warmups = ctx.pick(20, 5);
    ctx.log(`warm-up: ${warmups} calls of each`);
    for (const i of ctx.bounded(warmups, 60_000, "warm-up")) {
      for (const kind of kinds) ok(await call(kind), `warm-up ${kind} #${i}`);
    }

    const rounds = ctx.pick(200, 20);
    ctx.log(`measuring: ${rounds} rounds of ${kinds.join(", ")} in rotating order`);
    const samples: Record<Kind, number[]> = {
      chat: [],
      chatContinue: [],
      consultNew: [],
      consultSame: [],
      version: [],
      upstream: [],
      echo: [],
      echoNew: [],
    };
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

    const ratioNew = pairedRatio(samples.chat, samples.consultNew);
    const ratioContinue = pairedRatio(samples.chatContinue, samples.consultSame);
    const rounded = (x: number) => Math.round(x * 1000) / 1000;
    ctx.data["samplesMs"] = samples;
    const row = (metric: string, kind: Kind, extra: Partial<Row> = {}): Row => {
      const s = summarize(samples[kind]);
      return { metric, unit: "ms", n: s.n, min: s.min, median: s.median, p99: s.p99, ...extra };
    };
    return {
      rows: [
        row("chat, new thread, project (flash, fake upstream 0 ms)", "chat", {
          ratio: ratioNew,
          baseline: "baseline consult, new DO",
          target: check("new thread: chat / baseline consult", "<=", 1.5, rounded(ratioNew), "x"),
        }),
        row("consult tool, baseline (1 write to a new SQLite DO + 1 fetch)", "consultNew"),
        row("chat, continuation, project (thread of 1-20 exchanges)", "chatContinue", {
          ratio: ratioContinue,
          baseline: "baseline consult, same DO",
          target: check("continuation: chat / baseline consult", "<=", 1.5, rounded(ratioContinue), "x"),
        }),
        row("consult tool, baseline (1 write to the same SQLite DO + 1 fetch)", "consultSame"),
        row("upstream tool, baseline (bare SDK + 1 fetch, nothing stored)", "upstream", {
          ratio: pairedRatio(samples.chat, samples.upstream),
          baseline: "for reference: new-thread chat / this",
        }),
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
