/**
 * mcp-overhead: what the project adds to one model call over the bare MCP SDK.
 *
 * Project `chat` (model "flash": Gemini through GEMINI_BASE_URL → the fake upstream answering at
 * once) against the baseline worker's `consult` tool, which does the essential durable work of one
 * chat exchange in the order a durable server must and nothing more: a progress notification, the
 * upstream call (same fake upstream), THEN one row written to a SQLite Durable Object, before the
 * reply. A new thread is compared with a write to a new object each call, a continuation with a
 * write to the same object. Each side through a connected SDK Client, sequential calls; within a
 * round the compared calls run next to each other and the order alternates (lib/interleave.ts:
 * ABBA over the round, rotated every two rounds), checked on the orders actually run.
 * References: the baseline's `upstream` tool (the bare fetch, nothing stored), its `echo` (one
 * write to a SQLite Durable Object, the same one or a new one each call) and the project's
 * `version` tool (no model, no storage).
 *
 * Where the project's time goes is measured inside workerd with bench/harness (/attribution):
 * the whole MCP request for chat and its parts, each as the mean of a timed loop.
 */
import { CHAT_PROMPT, continuationIds } from "./lib/chat-calls.ts";
import { checkBalanced, measureInterleaved } from "./lib/interleave.ts";
import { connect, timedCall, type Client } from "./lib/mcp.ts";
import { geminiVars, startBaseline, startHarness, startProject, startUpstream } from "./lib/processes.ts";
import { sampleRow, type Row } from "./lib/results.ts";
import { runBenchmark } from "./lib/run.ts";
import { median, pairedRatio } from "./lib/stats.ts";
import { check } from "./lib/targets.ts";

type Kind = "chat" | "chatContinue" | "consultNew" | "consultSame" | "version" | "upstream" | "echo" | "echoNew";

/** Kinds compared with each other are in one group: measured next to each other, in alternating order. */
const GROUPS: Kind[][] = [["chat", "consultNew"], ["chatContinue", "consultSame"], ["upstream"], ["version", "echo"], ["echoNew"]];

await runBenchmark({
  name: "mcp-overhead",
  title: "MCP overhead: project chat vs the bare SDK",
  description:
    "Sequential tool calls from one connected SDK client each, in interleaved rounds (ABBA, rotated): project chat (flash, fake Gemini at 0 ms), new thread and continuation, vs the baseline's consult tool (progress, the same upstream call, then one SQLite DO write, new or existing object, before the reply).",
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
    const continuationId = continuationIds(projectClient);
    const call = async (kind: Kind) => {
      const client: Client = kind === "chat" || kind === "chatContinue" || kind === "version" ? projectClient : baselineClient;
      if (kind === "chat") return timedCall(client, "chat", { prompt: CHAT_PROMPT, model: "flash" });
      if (kind === "chatContinue") return timedCall(client, "chat", { prompt: CHAT_PROMPT, continuation_id: await continuationId() });
      if (kind === "consultNew") return timedCall(client, "consult", { prompt: CHAT_PROMPT });
      if (kind === "consultSame") return timedCall(client, "consult", { prompt: CHAT_PROMPT, thread: "bench-thread" });
      if (kind === "version") return timedCall(client, "version", {});
      if (kind === "upstream") return timedCall(client, "upstream", { prompt: CHAT_PROMPT });
      if (kind === "echoNew") return timedCall(client, "echo", { text: "bench", fresh: true });
      return timedCall(client, "echo", { text: "bench" });
    };
    const { samples, orders } = await measureInterleaved(ctx, GROUPS, call, {
      warmups: ctx.pick(20, 5),
      rounds: ctx.pick(200, 20),
      budgetMs: ctx.pick(150_000, 30_000),
      label: "measurement",
    });
    await projectClient.close();
    await baselineClient.close();
    ctx.data["orderBalance"] = checkBalanced(orders, [
      ["chat", "consultNew"],
      ["chatContinue", "consultSame"],
      ["chat", "upstream"],
      ["version", "echo"],
    ]);

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
    const row = (metric: string, kind: Kind, extra: Partial<Row> = {}): Row => sampleRow(metric, "ms", samples[kind], extra);
    return {
      rows: [
        row("chat, new thread, project (flash, fake upstream 0 ms)", "chat", {
          ratio: ratioNew,
          baseline: "baseline consult, new DO",
          target: check("new thread: chat / baseline consult", "<=", 1.5, rounded(ratioNew), "x"),
        }),
        row("consult tool, baseline (fetch, then 1 write to a new SQLite DO, before the reply)", "consultNew"),
        row("chat, continuation, project (thread of 1-20 exchanges)", "chatContinue", {
          ratio: ratioContinue,
          baseline: "baseline consult, same DO",
          target: check("continuation: chat / baseline consult", "<=", 1.5, rounded(ratioContinue), "x"),
        }),
        row("consult tool, baseline (fetch, then 1 write to the same SQLite DO, before the reply)", "consultSame"),
        row("reference: upstream tool, baseline (bare SDK + 1 fetch, nothing stored)", "upstream", {
          ratio: pairedRatio(samples.chat, samples.upstream),
          baseline: "new-thread chat / this",
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
