/**
 * upload: a large file streamed into the project's blob store (`PUT /v1/blobs/:sha256`, hashed,
 * counted and streamed into an R2 object as it arrives) against the baseline worker's `PUT /upload`
 * (hashes the stream and discards it), both under `wrangler dev`, in the same run.
 *
 * Each upload goes to a fresh worker (the previous upload's garbage is not in the next one's
 * peak); a round starts the four it needs at once (project and baseline, two sizes), then uploads
 * project and baseline of one size next to each other, in alternating order (lib/interleave.ts).
 * Memory: the peak RSS growth of the workerd processes during the upload (Linux VmHWM, reset with
 * /proc/<pid>/clear_refs just before), judged against the baseline's in the same round at the
 * same size, so what the project holds shows apart from what any worker costs (workerd's own
 * buffers grow with the size too). Throughput: bytes / wall time of the PUT, client side.
 */
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { checkBalanced, interleavedOrder } from "./lib/interleave.ts";
import type { Row } from "./lib/results.ts";
import { startBaseline, startProject } from "./lib/processes.ts";
import { runBenchmark } from "./lib/run.ts";
import { median, pairedRatio, summarize } from "./lib/stats.ts";
import { check } from "./lib/targets.ts";
import type { WorkerProcess } from "../test/support/worker-process.ts";

const MiB = 1024 * 1024;

/** Deterministic text-like content (the common case: source files), generated 1 MiB at a time. */
function block(index: number): Uint8Array {
  const line = (n: number) => `${String(index).padStart(6, "0")}:${String(n).padStart(5, "0")} const value = compute(input, ${n % 97});\n`;
  const text = Array.from({ length: Math.ceil(MiB / line(0).length) }, (_, n) => line(n)).join("").slice(0, MiB);
  return new TextEncoder().encode(text);
}

function body(size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= size) return controller.close();
      const chunk = block(index++).subarray(0, Math.min(MiB, size - sent));
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

function sha256Of(size: number): string {
  const hash = createHash("sha256");
  for (let sent = 0, index = 0; sent < size; index++) {
    const chunk = block(index).subarray(0, Math.min(MiB, size - sent));
    hash.update(chunk);
    sent += chunk.byteLength;
  }
  return hash.digest("hex");
}

/** The workerd processes below a wrangler process (all of them: the proxy and the user worker). */
function workerdPids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended meanwhile
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      if (readFileSync(`/proc/${child}/comm`, "utf8").trim() === "workerd") found.push(child);
      walk(child);
    }
  };
  walk(root);
  return found;
}

function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? 0);
}

interface Measurement {
  seconds: number;
  mbPerSecond: number;
  rssBeforeMb: number;
  peakMb: number;
  growthMb: number;
}

async function measure(url: string, size: number, wranglerPid: number): Promise<Measurement> {
  const pids = workerdPids(wranglerPid);
  if (pids.length === 0) throw new Error(`no workerd process under wrangler pid ${wranglerPid}`);
  // Reset the peak-RSS watermark to the current RSS (Linux: writing 5 to clear_refs).
  for (const pid of pids) writeFileSync(`/proc/${pid}/clear_refs`, "5");
  const before = pids.reduce((sum, pid) => sum + statusKb(pid, "VmRSS"), 0);
  const started = performance.now();
  const response = await fetch(url, {
    method: "PUT",
    body: body(size),
    headers: { "content-type": "text/plain", "content-length": String(size) },
    duplex: "half",
  } as RequestInit);
  const answer = await response.text();
  const seconds = (performance.now() - started) / 1000;
  if (!response.ok) throw new Error(`PUT ${url}: HTTP ${response.status} ${answer.slice(0, 300)}`);
  const peak = pids.reduce((sum, pid) => sum + statusKb(pid, "VmHWM"), 0);
  return { seconds, mbPerSecond: size / MiB / seconds, rssBeforeMb: before / 1024, peakMb: peak / 1024, growthMb: (peak - before) / 1024 };
}

type Side = "project" | "baseline";

await runBenchmark({
  name: "upload",
  title: "Uploads: streamed into the blob store vs hash-and-discard",
  description:
    "PUTs of generated text, streamed from the client, to the project's /v1/blobs/:sha256 and to the baseline's hash-and-discard route, each on a fresh wrangler dev, in interleaved rounds; peak RSS growth of workerd during the upload against the baseline's at the same size, and throughput.",
  budgetSeconds: { full: 600, quick: 120 },
  async run(ctx) {
    const sizes = ctx.pick([100 * MiB, 1024 * MiB], [8 * MiB, 32 * MiB]);
    // At least 3 samples per size in a full run; a quick run only checks that it runs.
    const rounds = ctx.pick(3, 1);
    const label = (size: number) => (size >= 1024 * MiB ? `${size / 1024 / MiB} GiB` : `${size / MiB} MiB`);
    const hashes = new Map([MiB, ...sizes].map((size) => [size, sha256Of(size)]));
    const measured: Record<string, Measurement[]> = {};
    const key = (side: Side, size: number) => `${side} ${label(size)}`;
    const slots = new Map(sizes.flatMap((size) => (["project", "baseline"] as const).map((side) => [key(side, size), { side, size }] as const)));
    const orders: string[][] = [];
    for (const round of ctx.bounded(rounds, ctx.pick(480_000, 100_000), "rounds")) {
      ctx.log(`round ${round + 1}/${rounds}: starting ${sizes.length * 2} fresh workers`);
      const workers = new Map<string, WorkerProcess>();
      try {
        await Promise.all(
          [...slots].map(async ([name, { side }]) => workers.set(name, side === "project" ? await startProject({}) : await startBaseline())),
        );
        const order = interleavedOrder(sizes.map((size) => [key("project", size), key("baseline", size)]), round);
        orders.push(order);
        for (const name of order) {
          const { side, size } = slots.get(name)!;
          const worker = workers.get(name)!;
          const url = (bytes: number) => (side === "project" ? `${worker.url}/v1/blobs/${hashes.get(bytes)}` : `${worker.url}/upload`);
          await measure(url(MiB), MiB, worker.pid); // warm-up
          const m = await measure(url(size), size, worker.pid);
          (measured[name] ??= []).push(m);
          ctx.log(`${name}: ${m.mbPerSecond.toFixed(1)} MB/s, peak RSS growth ${m.growthMb.toFixed(1)} MB`);
        }
      } finally {
        await Promise.all([...workers.values()].map((worker) => worker.stop()));
      }
    }
    ctx.data["orderBalance"] = checkBalanced(orders, sizes.map((size) => [key("project", size), key("baseline", size)] as const));
    ctx.data["measurements"] = measured;
    const get = (side: Side, size: number) => measured[key(side, size)] ?? [];
    const round1 = (x: number) => Math.round(x * 10) / 10;
    const rows: Row[] = [];
    const targets = [];
    for (const size of sizes) {
      const project = get("project", size);
      const baseline = get("baseline", size);
      // Per round: the project's growth minus the baseline's, and throughput over the baseline's.
      const extraGrowth = median(project.map((m, i) => m.growthMb - (baseline[i]?.growthMb ?? Number.NaN)).filter(Number.isFinite));
      const throughputRatio = pairedRatio(
        project.map((m) => m.mbPerSecond),
        baseline.map((m) => m.mbPerSecond),
      );
      const row = (side: Side, list: Measurement[], extra: Partial<Row> = {}): Row => {
        const seconds = summarize(list.map((m) => m.seconds));
        const what = side === "project" ? "project (hashed, counted, streamed into R2)" : "baseline (hashed and discarded)";
        return {
          metric:
            `${what}, ${label(size)}: median ${round1(median(list.map((m) => m.mbPerSecond)))} MB/s, ` +
            `peak RSS growth median ${round1(median(list.map((m) => m.growthMb)))} MB (from ${round1(median(list.map((m) => m.rssBeforeMb)))} MB)`,
          unit: "s",
          n: seconds.n,
          min: seconds.min,
          median: seconds.median,
          p99: seconds.p99,
          ...extra,
        };
      };
      rows.push(row("baseline", baseline), row("project", project, { ratio: throughputRatio, baseline: "baseline throughput, per round" }));
      targets.push(check(`RSS growth over the baseline's at the same size, ${label(size)} (MB)`, "<=", 64, round1(extraGrowth), "MB"));
      if (size === sizes.at(-1)) targets.push(check(`throughput / baseline's, ${label(size)}`, ">=", 0.5, Math.round(throughputRatio * 100) / 100, "x"));
    }
    return { rows, targets };
  },
});
