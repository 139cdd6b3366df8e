/**
 * concurrency: N assistants calling at once against a slow model.
 *
 * For each N, N SDK clients are connected to the project and N to the baseline beforehand (each
 * Client.connect is an initialize round trip and opens the GET stream). Then all N clients of one
 * side call at once: project `chat` (flash, each call a new thread) or the baseline's `consult`
 * tool (the same essential durable work in the order a durable server must: a progress
 * notification, the upstream call, then one row written to a new SQLite Durable Object, before the
 * reply), with the fake upstream answering after 2000 ms. At N=256 and N=1024 a third side is the
 * floor of this harness: the baseline's `upstream` tool (progress first, the same upstream call,
 * nothing stored). A cycle runs each side once; cycles alternate the order (ABBA, rotated every
 * two cycles: lib/interleave.ts), checked on the orders actually run. Per round: wall time (first
 * call sent to last answer), errors, per-call latency, time to the first progress notification by
 * two clocks (when the client heard it, and when the server sent it: its timestamp in the
 * notification's `_meta`), CPU seconds per process.
 */
import { callAtOnce, roundForJson, type AtOnceRound } from "./lib/at-once.ts";
import { wranglerProcesses, type ProcessGroup } from "./lib/cpu.ts";
import { checkBalanced, interleavedOrder } from "./lib/interleave.ts";
import { closeAll, connectMany, timedCall, type Client } from "./lib/mcp.ts";
import { geminiVars, startBaseline, startProject, startUpstream } from "./lib/processes.ts";
import type { Row } from "./lib/results.ts";
import { runBenchmark } from "./lib/run.ts";
import { bootstrapInterval, median, pairedRatio, summarize } from "./lib/stats.ts";
import { check, type TargetCheck } from "./lib/targets.ts";

const FIRST_BYTE_MS = 2_000;
/** Far beyond any healthy round (N=1024 takes ~20 s on 2 shared cores): a call this slow is stuck. */
const CALL_TIMEOUT_MS = 60_000;
const PROMPT = "Give me a second opinion on retry budgets.";
/** The level of the wall-time and first-progress-to-floor targets (the issue's scenario). */
const TARGET_N = 256;
/** The harness's limit: its first-progress target is relative to the floor too (bench/README.md). */
const HARNESS_LIMIT_N = 1024;
/** The levels where the floor side runs. */
const FLOOR_LEVELS: readonly number[] = [TARGET_N, HARNESS_LIMIT_N];
/** Up to this N, first progress is also held to an absolute bound, as a person waits for it. */
const ABSOLUTE_PROGRESS_MAX_N = 64;

type Side = "project" | "baseline" | "floor";

interface Round extends AtOnceRound {
  side: Side;
  cycle: number;
}

await runBenchmark({
  name: "concurrency",
  title: "Concurrency: N clients calling at once, upstream answering in 2 s",
  description:
    "N SDK clients connected beforehand call at once (project chat, a new thread each, vs the baseline's consult tool: progress, the same upstream call, then a row in a new SQLite DO before the reply; at N=256 and N=1024 also the bare SDK's upstream tool, nothing stored, as the floor), in interleaved cycles (ABBA, rotated), while the fake upstream takes 2000 ms to the first byte. First progress by the client's clock and by the server's send time.",
  budgetSeconds: { full: 900, quick: 100 },
  options: ["levels", "cycles"],
  async run(ctx) {
    const levels = ctx.options["levels"]?.split(",").map(Number) ?? ctx.pick([1, 16, 64, 256, 1024], [1, 64]);
    // At least 7 cycles in a full run (paired per-cycle medians); a quick run only checks that everything runs (2 cycles: both orders).
    const cycles = ctx.options["cycles"] ? Number(ctx.options["cycles"]) : ctx.pick(7, 2);
    const upstream = await startUpstream();
    ctx.log("starting the project and baseline workers");
    const [project, baseline] = await Promise.all([startProject(geminiVars(upstream.url)), startBaseline({ UPSTREAM_URL: upstream.url })]);
    const urls = { project: project.mcpUrl, baseline: baseline.mcpUrl };
    const fakeUpstream: ProcessGroup = { label: "fake upstream (node)", pids: upstream.pid ? [upstream.pid] : [] };
    const projectProcesses = [...wranglerProcesses(project.port), fakeUpstream];
    const baselineProcesses = [...wranglerProcesses(baseline.port), fakeUpstream];

    const round = async (side: Side, clients: Client[], cycle: number): Promise<Round> => {
      const options = { progress: true, timeoutMs: CALL_TIMEOUT_MS };
      const measured = await callAtOnce(
        clients,
        (client) =>
          side === "project"
            ? timedCall(client, "chat", { prompt: PROMPT, model: "flash" }, options)
            : timedCall(client, side === "baseline" ? "consult" : "upstream", { prompt: PROMPT }, options),
        side === "project" ? projectProcesses : baselineProcesses,
      );
      return { side, cycle, ...measured };
    };

    // Warm both isolates (and the upstream path) with one call each at no latency.
    await upstream.setLatency({ firstByteMs: 0 });
    {
      const [p] = await connectMany(urls.project, 1);
      const [b] = await connectMany(urls.baseline, 1);
      for (const _ of ctx.bounded(3, 20_000, "warm-up")) await Promise.all([round("project", [p!], -1), round("baseline", [b!], -1), round("floor", [b!], -1)]);
      await closeAll([p!, b!]);
    }
    await upstream.setLatency({ firstByteMs: FIRST_BYTE_MS, chunkDelayMs: 0 });

    const rounds: Round[] = [];
    const orders: Record<number, Side[][]> = {};
    const sequence = levels.flatMap((n) => Array.from({ length: cycles }, (_, cycle) => ({ n, cycle })));
    let previous = 0;
    let clients: { project: Client[]; baseline: Client[] } = { project: [], baseline: [] };
    try {
      for (const step of ctx.bounded(sequence.length, ctx.pick(780_000, 75_000), "curve")) {
        const { n, cycle } = sequence[step]!;
        if (n !== previous) {
          await closeAll([...clients.project, ...clients.baseline]);
          ctx.log(`N=${n}: connecting ${n} clients to each worker`);
          const connectStart = performance.now();
          clients = { project: await connectMany(urls.project, n, 32), baseline: await connectMany(urls.baseline, n, 32) };
          ctx.log(`N=${n}: connected in ${Math.round(performance.now() - connectStart)} ms`);
          previous = n;
        }
        const sides: Side[][] = FLOOR_LEVELS.includes(n) ? [["project"], ["baseline"], ["floor"]] : [["project"], ["baseline"]];
        const order = interleavedOrder(sides, cycle);
        (orders[n] ??= []).push(order);
        for (const side of order) {
          const r = await round(side, side === "project" ? clients.project : clients.baseline, cycle);
          rounds.push(r);
          if (r.firstProgressServerMs.length !== r.firstProgressMs.length) {
            ctx.note(`N=${n} ${side} round: ${r.firstProgressMs.length - r.firstProgressServerMs.length} first progress notifications without the server's send time`);
          }
          if (r.errors > 0) {
            const worker = side === "project" ? project : baseline;
            const log = worker
              .output()
              .split("\n")
              .filter((line) => line.trim() && !/Request\.cf|getaddrinfo|GetAddrInfo|TEAM_TOKENS|^\s+at /.test(line))
              .slice(-8)
              .join(" / ");
            ctx.note(`N=${n} ${side} round: ${r.errors} of ${n} calls failed (${r.errorSamples.join(" | ")}); worker log tail: ${log || "(nothing)"}`);
          }
          ctx.log(
            `N=${n} ${side}: wall ${Math.round(r.wallMs)} ms, errors ${r.errors}` +
              (r.firstProgressMs.length
                ? `, first progress median ${Math.round(median(r.firstProgressMs))} ms heard, ${Math.round(median(r.firstProgressServerMs))} ms sent`
                : "") +
              (r.errorSamples.length ? ` (${r.errorSamples.join(" | ")})` : "") +
              `; CPU s: ${Object.entries(r.cpuSeconds).map(([k, v]) => `${k} ${v}`).join(", ")}`,
          );
          await upstream.clearRequests();
        }
      }
    } finally {
      await closeAll([...clients.project, ...clients.baseline]);
    }
    ctx.data["orderBalance"] = Object.fromEntries(
      Object.entries(orders).map(([n, list]) => [
        n,
        checkBalanced(list, FLOOR_LEVELS.includes(Number(n)) ? [["project", "baseline"], ["project", "floor"]] : [["project", "baseline"]]),
      ]),
    );

    ctx.data["rounds"] = rounds.map(roundForJson);

    const rows: Row[] = [];
    const targets: TargetCheck[] = [];
    const measured = [...new Set(rounds.map((r) => r.n))];
    let projectErrors = 0;
    const byCycle = (list: Round[]) => [...list].sort((a, b) => a.cycle - b.cycle);
    for (const n of measured) {
      const of = (side: Side) => byCycle(rounds.filter((r) => r.n === n && r.side === side));
      const p = of("project");
      const b = of("baseline");
      const f = of("floor");
      const ratio = pairedRatio(
        p.map((r) => r.wallMs),
        b.map((r) => r.wallMs),
      );
      const errors = (list: Round[]) => list.reduce((sum, r) => sum + r.errors, 0);
      projectErrors += errors(p);
      const wall = (side: Side, list: Round[], extra: Partial<Row> = {}): Row => {
        const s = summarize(list.map((r) => r.wallMs));
        return { metric: `N=${n} ${side} wall (${errors(list)} errors)`, unit: "ms", n: s.n, min: s.min, median: s.median, p99: s.p99, ...extra };
      };
      rows.push(
        wall("project", p, {
          ratio,
          baseline: "baseline",
          ...(n === TARGET_N ? { target: check(`project / baseline wall at N=${TARGET_N}`, "<=", 1.25, Math.round(ratio * 1000) / 1000, "x") } : {}),
        }),
        wall("baseline", b),
        ...(f.length > 0 ? [wall("floor", f)] : []),
      );
      // First progress by both clocks: when the client heard it, and when the server sent it.
      const clocks = {
        client: { label: "heard by the client", of: (r: Round) => r.firstProgressMs },
        server: { label: "sent by the server", of: (r: Round) => r.firstProgressServerMs },
      } as const;
      type Clock = keyof typeof clocks;
      // Per cycle: the project's median first progress over the floor's of the same cycle (over the cycles numbered `cycles`, all by default).
      const floorRatio = (clock: Clock, cycles?: readonly number[]) => {
        const medians = (list: Round[]) => (cycles ? cycles.map((i) => list[i]!) : list).map((r) => median(clocks[clock].of(r)));
        return pairedRatio(medians(p), medians(f));
      };
      // How far that ratio moves with the cycles drawn (a 95 % bootstrap interval over them): a handful
      // of cycles of 256 calls at once on 2 shared cores resolves it only roughly.
      const floorInterval = (clock: Clock) => bootstrapInterval(Math.min(p.length, f.length), (cycles) => floorRatio(clock, cycles));
      const progressRow = (side: Side, list: Round[], clock: Clock, extra: Partial<Row> = {}): Row[] => {
        const s = summarize(list.flatMap(clocks[clock].of));
        if (s.n === 0) return [];
        const what = side === "floor" ? "floor (bare SDK upstream tool, progress first, nothing stored)" : side;
        const interval = side === "project" && f.length > 1 ? floorInterval(clock) : undefined;
        const spread = interval ? `; ratio to the floor's 95 % interval over ${Math.min(p.length, f.length)} cycles ${interval.low.toFixed(3)}-${interval.high.toFixed(3)}` : "";
        return [{ metric: `N=${n} ${what} first progress, ${clocks[clock].label} (per call${spread})`, unit: "ms", n: s.n, min: s.min, median: s.median, p99: s.p99, ...extra }];
      };
      const projectTarget = (clock: Clock): TargetCheck | undefined => {
        if (f.length > 0 && n === TARGET_N && clock === "server") {
          return check(`project first progress (server's send time) / floor at N=${TARGET_N}, per-cycle medians paired`, "<=", 1.1, Math.round(floorRatio("server") * 1000) / 1000, "x");
        }
        if (f.length > 0 && n === HARNESS_LIMIT_N && clock === "client") {
          return check(`project first progress / floor at N=${HARNESS_LIMIT_N}`, "<=", 1.2, Math.round(floorRatio("client") * 1000) / 1000, "x");
        }
        if (n <= ABSOLUTE_PROGRESS_MAX_N && clock === "client") {
          return check(`project first-progress median at N=${n}`, "<", 1000, Math.round(summarize(p.flatMap(clocks.client.of)).median), "ms");
        }
        return undefined;
      };
      for (const clock of ["client", "server"] as const) {
        const projectMedian = summarize(p.flatMap(clocks[clock].of)).median;
        const baselineMedian = summarize(b.flatMap(clocks[clock].of)).median;
        const comparison: Partial<Row> =
          f.length > 0 ? { ratio: floorRatio(clock), baseline: "floor, per-cycle medians paired" } : baselineMedian > 0 ? { ratio: projectMedian / baselineMedian, baseline: "baseline" } : {};
        const target = projectTarget(clock);
        rows.push(...progressRow("project", p, clock, { ...comparison, ...(target ? { target } : {}) }), ...progressRow("baseline", b, clock), ...progressRow("floor", f, clock));
      }
      for (const [side, list] of [["project", p], ["baseline", b], ["floor", f]] as const) {
        const labels = Object.keys(list[0]?.cpuSeconds ?? {});
        if (n < 64 || labels.length === 0 || !labels.some((label) => label.includes("workerd"))) continue;
        const cpu = labels.map((label) => `${label.replace(/ \(.*\)/, "")} ${median(list.map((r) => r.cpuSeconds[label] ?? 0)).toFixed(2)}`);
        rows.push({ metric: `N=${n} ${side} CPU s per round: ${cpu.join(", ")}`, unit: "" });
      }
      const pLatency = summarize(p.flatMap((r) => r.latencyMs));
      const bLatency = summarize(b.flatMap((r) => r.latencyMs));
      rows.push({
        metric: `N=${n} per-call latency project / baseline`,
        unit: "ms",
        n: pLatency.n,
        min: pLatency.min,
        median: pLatency.median,
        p99: pLatency.p99,
        ratio: pLatency.median / bLatency.median,
        baseline: `baseline median ${Math.round(bLatency.median)} ms, p99 ${Math.round(bLatency.p99)} ms`,
      });
    }
    if (!measured.includes(TARGET_N)) ctx.note(`N=${TARGET_N} and N=${HARNESS_LIMIT_N} not measured in this run (quick runs measure N=1 and N=64): their targets are checked in full runs only.`);
    targets.push(check("project errors (every N)", "==", 0, projectErrors, "errors"));
    return { rows, targets };
  },
});
