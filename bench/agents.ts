/**
 * agents: should ConversationDO stand on the `agents` package's Agent base class? The project as it
 * is ("plain": ConversationDO extends DurableObject, TTL through the object's alarm) and the same
 * project with ConversationDO on Agent (bench/agents/: same RPC methods over the same ThreadStore,
 * TTL through Agent.schedule()), both under `wrangler dev` from frozen snapshots at once.
 *
 * 1. Bundle size of each (wrangler deploy --dry-run, gzip level 9).
 * 2. Probing an unknown continuation id: chat with a random id on each, then what the object's
 *    SQLite file in the state directory holds (tables and KV keys besides miniflare's own
 *    `__miniflare_do_name`). The plain class stores nothing (a requirement of the security issue).
 * 3. mcp-overhead's cases, interleaved (lib/interleave.ts, order checked): chat on a new thread
 *    and chat continuing a thread (1-20 exchanges), fake Gemini at 0 ms, one connected SDK client
 *    per variant, sequential calls.
 * 4. Concurrency: N SDK clients connected beforehand call chat at once (a new thread each), fake
 *    upstream at 2000 ms to the first byte; a cycle runs each variant once, cycles interleaved.
 *    Wall time (first call sent to last answer), first-progress median, errors, CPU per process.
 *
 * The Agent variant is checked to keep each thread's expiry as exactly one schedule.
 *
 * Targets (the issue's): Agent / plain ≤ 1.05 for the new-thread and continuation latency (median
 * of paired ratios) and the wall time at N=256 (paired per cycle).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { bundle } from "./lib/bundle.ts";
import { CHAT_PROMPT, continuationIds } from "./lib/chat-calls.ts";
import { callAtOnce, cpuRow, errorsOf, firstProgressRow, roundForJson, wallRow, type AtOnceRound } from "./lib/at-once.ts";
import { wranglerProcesses, type ProcessGroup } from "./lib/cpu.ts";
import { checkBalanced, interleavedOrder, measureInterleaved } from "./lib/interleave.ts";
import { closeAll, connect, connectMany, textOf, timedCall, type Client } from "./lib/mcp.ts";
import { AGENTS_CONFIG, geminiVars, PROJECT_CONFIG, startProject, startVariant, startUpstream } from "./lib/processes.ts";
import { sampleRow, type Row } from "./lib/results.ts";
import { runBenchmark } from "./lib/run.ts";
import { median, pairedRatio, ratioOfMedians } from "./lib/stats.ts";
import { check, type TargetCheck } from "./lib/targets.ts";
import type { WorkerProcess } from "../test/support/worker-process.ts";

type Variant = "plain" | "agent";
type Kind = "plainNew" | "agentNew" | "plainContinue" | "agentContinue";

/** The compared calls run next to each other, in alternating order. */
const GROUPS: Kind[][] = [
  ["plainNew", "agentNew"],
  ["plainContinue", "agentContinue"],
];
const FIRST_BYTE_MS = 2_000;
/** Far beyond any healthy round at these levels: a call this slow is stuck. */
const CALL_TIMEOUT_MS = 60_000;
const WALL_TARGET_N = 256;
const PROBES = 3;

/** What an object's SQLite file holds besides miniflare's own record of its name. */
function storedIn(file: string): { tables: string[]; kvKeys: string[] } {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name <> '__miniflare_do_name'")
      .all()
      .map((row) => String(row["name"]));
    const kvKeys = tables.includes("_cf_KV") ? db.prepare("SELECT key FROM _cf_KV").all().map((row) => String(row["key"])) : [];
    return { tables: tables.filter((name) => name !== "_cf_KV"), kvKeys };
  } finally {
    db.close();
  }
}

/** The SQLite files of ConversationDO objects in a `wrangler dev` state directory. */
function conversationObjects(worker: WorkerProcess): Set<string> {
  const root = join(worker.persistDir, "v3/do");
  const namespace = readdirSync(root, { withFileTypes: true }).find((entry) => entry.isDirectory() && entry.name.endsWith("-ConversationDO"));
  if (!namespace) return new Set();
  const dir = join(root, namespace.name);
  return new Set(readdirSync(dir).filter((name) => name.endsWith(".sqlite") && name !== "metadata.sqlite").map((name) => join(dir, name)));
}

interface Probe {
  probes: number;
  newObjects: number;
  objectsWithData: number;
  tables: string[];
  kvKeys: string[];
}

/** Chat with unknown continuation ids (each refused), then what their objects hold. */
async function probeUnknownIds(worker: WorkerProcess, client: Client): Promise<Probe> {
  const before = conversationObjects(worker);
  for (let i = 0; i < PROBES; i++) {
    const call = await timedCall(client, "chat", { prompt: CHAT_PROMPT, continuation_id: crypto.randomUUID() }, { allowToolError: true });
    if (!call.result?.isError || !textOf(call.result).includes("was not found")) {
      throw new Error(`a probe with an unknown continuation id was not refused: ${call.error ?? textOf(call.result).slice(0, 300)}`);
    }
  }
  const created = [...conversationObjects(worker)].filter((file) => !before.has(file));
  // miniflare creates a file for every object named, data or not: none means the layout read here changed.
  if (created.length !== PROBES) {
    throw new Error(`expected ${PROBES} new ConversationDO files under ${worker.persistDir}/v3/do, found ${created.length}: miniflare's state layout changed?`);
  }
  const contents = created.map(storedIn);
  return {
    probes: PROBES,
    newObjects: created.length,
    objectsWithData: contents.filter((c) => c.tables.length > 0 || c.kvKeys.length > 0).length,
    tables: [...new Set(contents.flatMap((c) => c.tables))],
    kvKeys: [...new Set(contents.flatMap((c) => c.kvKeys))],
  };
}

/**
 * The Agent variant does the work it is measured for: every thread it stored has its expiry as
 * exactly one pending schedule (moved, never piled up). Returns the number of threads checked.
 */
function checkAgentSchedules(worker: WorkerProcess): number {
  let threads = 0;
  for (const file of conversationObjects(worker)) {
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      const isThread = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'thread'").all().length > 0;
      if (!isThread) continue;
      threads++;
      const schedules = db.prepare("SELECT COUNT(*) AS n FROM cf_agents_jobs WHERE fn = 'expireThread'").get()?.["n"];
      if (schedules !== 1) throw new Error(`Agent variant: thread object ${file} has ${String(schedules)} expiry schedules, not 1`);
    } finally {
      db.close();
    }
  }
  if (threads === 0) throw new Error("Agent variant: no thread objects found to check their schedules");
  return threads;
}

interface Round extends AtOnceRound {
  variant: Variant;
  cycle: number;
}

await runBenchmark({
  name: "agents",
  title: "agents: ConversationDO on the Agent base class vs the plain DurableObject",
  description:
    "The project with ConversationDO as a plain DurableObject (alarm for the TTL) and with ConversationDO on agents' Agent (schedule() for the TTL), both under wrangler dev at once: bundle size, storage created by probing an unknown continuation id, " +
    "chat new thread and continuation (fake Gemini at 0 ms, sequential, interleaved ABBA rotated), and N clients calling chat at once with the upstream at 2000 ms (cycles interleaved).",
  budgetSeconds: { full: 600, quick: 150 },
  async run(ctx) {
    const bundles = { plain: bundle(PROJECT_CONFIG, ctx.log), agent: bundle(AGENTS_CONFIG, ctx.log) };
    ctx.data["bundle"] = bundles;

    const upstream = await startUpstream();
    await upstream.setLatency({ firstByteMs: 0, chunkDelayMs: 0 });
    ctx.log("starting the plain and the Agent variant");
    const [plain, agent] = await Promise.all([startProject(geminiVars(upstream.url)), startVariant("agents", geminiVars(upstream.url))]);
    const clients: Record<Variant, Client> = { plain: await connect(plain.mcpUrl), agent: await connect(agent.mcpUrl) };

    const probes = { plain: await probeUnknownIds(plain, clients.plain), agent: await probeUnknownIds(agent, clients.agent) };
    ctx.data["probeUnknownId"] = probes;
    ctx.log(`probing unknown ids: plain ${probes.plain.objectsWithData}, Agent ${probes.agent.objectsWithData} of ${PROBES} objects store data`);

    const continuation = { plain: continuationIds(clients.plain), agent: continuationIds(clients.agent) };
    const call = async (kind: Kind) => {
      const variant: Variant = kind.startsWith("plain") ? "plain" : "agent";
      if (kind.endsWith("New")) return timedCall(clients[variant], "chat", { prompt: CHAT_PROMPT, model: "flash" });
      return timedCall(clients[variant], "chat", { prompt: CHAT_PROMPT, continuation_id: await continuation[variant]() });
    };
    const { samples, orders } = await measureInterleaved(ctx, GROUPS, call, {
      warmups: ctx.pick(20, 5),
      rounds: ctx.pick(200, 24),
      budgetMs: ctx.pick(150_000, 40_000),
      label: "sequential calls",
    });
    await closeAll(Object.values(clients));
    ctx.data["agentThreadsWithOneSchedule"] = checkAgentSchedules(agent);
    ctx.data["orderBalance"] = checkBalanced(orders, [
      ["plainNew", "agentNew"],
      ["plainContinue", "agentContinue"],
    ]);
    ctx.data["samplesMs"] = samples;

    // Concurrency.
    const levels = ctx.pick([64, WALL_TARGET_N], [64]);
    const cycles = ctx.pick(4, 2);
    await upstream.setLatency({ firstByteMs: FIRST_BYTE_MS, chunkDelayMs: 0 });
    const fakeUpstream: ProcessGroup = { label: "fake upstream (node)", pids: upstream.pid ? [upstream.pid] : [] };
    const processes: Record<Variant, ProcessGroup[]> = {
      plain: [...wranglerProcesses(plain.port), fakeUpstream],
      agent: [...wranglerProcesses(agent.port), fakeUpstream],
    };
    const concurrent = async (variant: Variant, group: Client[], cycle: number): Promise<Round> => {
      const measured = await callAtOnce(
        group,
        (client) => timedCall(client, "chat", { prompt: CHAT_PROMPT, model: "flash" }, { progress: true, timeoutMs: CALL_TIMEOUT_MS }),
        processes[variant],
      );
      return { variant, cycle, ...measured };
    };
    const concurrentRounds: Round[] = [];
    const concurrentOrders: Record<number, Variant[][]> = {};
    for (const n of levels) {
      ctx.log(`N=${n}: connecting ${n} clients to each variant`);
      const groups: Record<Variant, Client[]> = { plain: await connectMany(plain.mcpUrl, n, 32), agent: await connectMany(agent.mcpUrl, n, 32) };
      try {
        for (const cycle of ctx.bounded(cycles, ctx.pick(200_000, 40_000), `N=${n} cycles`)) {
          const order = interleavedOrder<Variant>([["plain"], ["agent"]], cycle);
          (concurrentOrders[n] ??= []).push(order);
          for (const variant of order) {
            const r = await concurrent(variant, groups[variant], cycle);
            concurrentRounds.push(r);
            if (r.errors > 0) ctx.note(`N=${n} ${variant} cycle ${cycle}: ${r.errors} of ${n} calls failed (${r.errorSamples.join(" | ")})`);
            ctx.log(
              `N=${n} ${variant}: wall ${Math.round(r.wallMs)} ms, errors ${r.errors}, first progress median ${Math.round(median(r.firstProgressMs))} ms; ` +
                `CPU s: ${Object.entries(r.cpuSeconds).map(([k, v]) => `${k} ${v}`).join(", ")}`,
            );
            await upstream.clearRequests();
          }
        }
      } finally {
        await closeAll([...groups.plain, ...groups.agent]);
      }
    }
    ctx.data["concurrencyOrderBalance"] = Object.fromEntries(Object.entries(concurrentOrders).map(([n, list]) => [n, checkBalanced(list, [["plain", "agent"]])]));
    ctx.data["concurrencyRounds"] = concurrentRounds.map(roundForJson);

    const rounded = (x: number) => Math.round(x * 1000) / 1000;
    const kib = (bytes: number) => Math.round((bytes / 1024) * 10) / 10;
    const sequential = (metric: string, kind: Kind, extra: Partial<Row> = {}): Row => sampleRow(metric, "ms", samples[kind], extra);
    const newRatio = pairedRatio(samples.agentNew, samples.plainNew);
    const continueRatio = pairedRatio(samples.agentContinue, samples.plainContinue);
    ctx.note(
      `Ratio of medians, Agent / plain: new thread ${rounded(ratioOfMedians(samples.agentNew, samples.plainNew))}×, continuation ${rounded(ratioOfMedians(samples.agentContinue, samples.plainContinue))}× (the targets use the median of paired ratios).`,
    );
    const agentPackage = bundles.agent.byPackage.find((entry) => entry.name === "agents");
    const rows: Row[] = [
      {
        metric: "bundle gzip, Agent variant",
        unit: "KiB",
        value: kib(bundles.agent.gzipBytes),
        ratio: bundles.agent.gzipBytes / bundles.plain.gzipBytes,
        baseline: "plain",
      },
      { metric: "bundle gzip, plain (the project)", unit: "KiB", value: kib(bundles.plain.gzipBytes) },
      ...(agentPackage ? [{ metric: "  of the Agent variant's raw bundle: the agents package", unit: "KiB", value: kib(agentPackage.bytes) }] : []),
      {
        metric: `probe of ${PROBES} unknown continuation ids: objects left with data, Agent (${probes.agent.tables.length} tables, ${probes.agent.kvKeys.length} KV keys each)`,
        unit: "objects",
        value: probes.agent.objectsWithData,
        target: check("probing unknown ids creates no storage, Agent", "==", 0, probes.agent.objectsWithData, "objects"),
      },
      {
        metric: `probe of ${PROBES} unknown continuation ids: objects left with data, plain`,
        unit: "objects",
        value: probes.plain.objectsWithData,
        target: check("probing unknown ids creates no storage, plain", "==", 0, probes.plain.objectsWithData, "objects"),
      },
      sequential("chat, new thread, Agent", "agentNew", {
        ratio: newRatio,
        baseline: "plain, paired",
        target: check("new thread: Agent / plain", "<=", 1.05, rounded(newRatio), "x"),
      }),
      sequential("chat, new thread, plain", "plainNew"),
      sequential("chat, continuation, Agent (threads of 1-20 exchanges)", "agentContinue", {
        ratio: continueRatio,
        baseline: "plain, paired",
        target: check("continuation: Agent / plain", "<=", 1.05, rounded(continueRatio), "x"),
      }),
      sequential("chat, continuation, plain", "plainContinue"),
    ];
    const targets: TargetCheck[] = [];
    for (const n of [...new Set(concurrentRounds.map((r) => r.n))]) {
      const of = (variant: Variant) => concurrentRounds.filter((r) => r.n === n && r.variant === variant).sort((a, b) => a.cycle - b.cycle);
      const [p, a] = [of("plain"), of("agent")];
      const wallRatio = pairedRatio(
        a.map((r) => r.wallMs),
        p.map((r) => r.wallMs),
      );
      const progressRatio = pairedRatio(
        a.map((r) => median(r.firstProgressMs)),
        p.map((r) => median(r.firstProgressMs)),
      );
      rows.push(
        wallRow(`N=${n} agent`, a, {
          ratio: wallRatio,
          baseline: "plain, paired per cycle",
          ...(n === WALL_TARGET_N ? { target: check(`wall at N=${WALL_TARGET_N}: Agent / plain`, "<=", 1.05, rounded(wallRatio), "x") } : {}),
        }),
        wallRow(`N=${n} plain`, p),
        firstProgressRow(`N=${n} agent`, a, { ratio: progressRatio, baseline: "plain, per-cycle medians paired" }),
        firstProgressRow(`N=${n} plain`, p),
        cpuRow(`N=${n} agent`, a),
        cpuRow(`N=${n} plain`, p),
      );
      targets.push(check(`errors at N=${n}, both variants`, "==", 0, errorsOf([...p, ...a]), "errors"));
    }
    if (!levels.includes(WALL_TARGET_N)) ctx.note(`N=${WALL_TARGET_N} not measured (quick runs measure N=64 only): its wall-time target is checked in full runs.`);
    return { rows, targets };
  },
});
