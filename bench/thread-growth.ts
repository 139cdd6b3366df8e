/**
 * thread-growth: does a long thread make each call slower?
 *
 * A thread starts with 10 inline files of ~4 KB each ({path, content} in absolute_file_paths) and
 * continues with continuation_id, one chat call (flash, fake upstream at 0 ms) per exchange. The
 * latency of exchanges 2..(1+W) of a young thread is compared with exchanges (49-W)..48 of an old
 * one, in interleaved pairs: while one thread is young, the previous one is finishing, so every
 * early sample has a late sample taken right next to it.
 */
import { connect, ok, textOf, timedCall, type Client } from "./lib/mcp.ts";
import { geminiVars, startProject, startUpstream } from "./lib/processes.ts";
import { runBenchmark } from "./lib/run.ts";
import { pairedRatio, summarize } from "./lib/stats.ts";
import { check } from "./lib/targets.ts";

const FILES = 10;
const FILE_BYTES = 4_096;
const LATE_TURN = 48;

/** ~4 KB of plausible TypeScript, different per file. */
function fileContent(index: number): string {
  const lines: string[] = [`// bench file ${index}`];
  for (let i = 0; lines.join("\n").length < FILE_BYTES; i++) {
    lines.push(`export function handler${index}_${i}(input: number): number {`, `  return input * ${i + 1} + ${index}; // step ${i}`, "}");
  }
  return lines.join("\n").slice(0, FILE_BYTES);
}

const files = Array.from({ length: FILES }, (_, i) => ({ path: `/bench/src/module-${i}.ts`, content: fileContent(i) }));

interface Exchange {
  ms: number;
  /** Characters the model received (the fake upstream reports them in its reply). */
  promptChars?: number;
}

await runBenchmark({
  name: "thread-growth",
  title: "Thread growth: chat latency at exchange 2 vs exchange 48",
  description: `Chat (flash, fake upstream 0 ms) continuing threads that hold ${FILES} inline files of ~4 KB; early exchanges of a young thread paired with late exchanges of an old one.`,
  budgetSeconds: { full: 300, quick: 90 },
  async run(ctx) {
    const window = ctx.pick(4, 3);
    const pairedRounds = ctx.pick(5, 1);
    const upstream = await startUpstream();
    await upstream.setLatency({ firstByteMs: 0, chunkDelayMs: 0 });
    // Each exchange stores two turns; 48 exchanges need 96 (plus room).
    const worker = await startProject({ ...geminiVars(upstream.url), MAX_CONVERSATION_TURNS: "200" });
    const client: Client = await connect(worker.mcpUrl);

    const exchange = async (threadId: string | undefined, turn: number): Promise<{ threadId: string; result: Exchange }> => {
      const args: Record<string, unknown> = { prompt: `Exchange ${turn}: what should we look at next in these modules?`, model: "flash" };
      if (threadId) args["continuation_id"] = threadId;
      else args["absolute_file_paths"] = files;
      const call = ok(await timedCall(client, "chat", args), `chat exchange ${turn}`);
      const output = JSON.parse(textOf(call.result)) as { content: string; continuation_offer: { continuation_id: string } | null };
      const id = output.continuation_offer?.continuation_id ?? threadId;
      if (!id) throw new Error(`exchange ${turn}: no continuation_id in ${textOf(call.result).slice(0, 300)}`);
      const chars = /chars=(\d+)/.exec(output.content)?.[1];
      return { threadId: id, result: { ms: call.ms, ...(chars ? { promptChars: Number(chars) } : {}) } };
    };

    ctx.log("warm-up: a short thread");
    {
      let id: string | undefined;
      for (const turn of ctx.bounded(6, 30_000, "warm-up")) id = (await exchange(id, turn + 1)).threadId;
    }

    const early: Exchange[] = [];
    const late: Exchange[] = [];
    let old: { id: string; next: number } | undefined;
    const deadline = performance.now() + ctx.pick(200_000, 50_000);
    for (const round of ctx.bounded(pairedRounds + 1, ctx.pick(220_000, 60_000), "rounds")) {
      let young = (await exchange(undefined, 1)).threadId;
      for (const w of ctx.bounded(window, 60_000, "window")) {
        const earlyTurn = 2 + w;
        const pair = async (which: "early" | "late") => {
          if (which === "early") {
            const { result } = await exchange(young, earlyTurn);
            if (old) early.push(result);
          } else if (old) {
            const { result } = await exchange(old.id, old.next);
            if (old.next !== LATE_TURN - window + 1 + w) throw new Error(`late exchange ${old.next} out of step`);
            old.next++;
            late.push(result);
          }
        };
        // Alternate which of the pair goes first.
        for (const which of w % 2 === 0 ? (["early", "late"] as const) : (["late", "early"] as const)) await pair(which);
      }
      if (round === pairedRounds) break;
      ctx.log(`round ${round + 1}/${pairedRounds}: growing a thread to exchange ${LATE_TURN - window}`);
      for (let turn = 2 + window; turn <= LATE_TURN - window; turn++) {
        if (performance.now() > deadline) throw new Error(`time bound reached while growing a thread (exchange ${turn})`);
        young = (await exchange(young, turn)).threadId;
      }
      old = { id: young, next: LATE_TURN - window + 1 };
      await upstream.clearRequests();
    }
    await client.close();

    const e = summarize(early.map((x) => x.ms));
    const l = summarize(late.map((x) => x.ms));
    const ratio = pairedRatio(
      late.map((x) => x.ms),
      early.map((x) => x.ms),
    );
    const chars = (list: Exchange[]) => Math.round(summarize(list.flatMap((x) => (x.promptChars !== undefined ? [x.promptChars] : []))).median);
    ctx.data["earlyMs"] = early.map((x) => x.ms);
    ctx.data["lateMs"] = late.map((x) => x.ms);
    ctx.data["promptChars"] = { early: chars(early), late: chars(late) };
    return {
      rows: [
        { metric: `chat at exchanges 2-${1 + window} (young thread)`, unit: "ms", n: e.n, min: e.min, median: e.median, p99: e.p99 },
        {
          metric: `chat at exchanges ${LATE_TURN - window + 1}-${LATE_TURN} (old thread)`,
          unit: "ms",
          n: l.n,
          min: l.min,
          median: l.median,
          p99: l.p99,
          ratio,
          baseline: "young thread",
          target: check("late / early exchange", "<=", 2, Math.round(ratio * 1000) / 1000, "x"),
        },
        { metric: "prompt sent upstream, young thread (chars)", unit: "", value: chars(early) },
        { metric: "prompt sent upstream, old thread (chars)", unit: "", value: chars(late) },
      ],
    };
  },
});
