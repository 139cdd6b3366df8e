/**
 * upload: a large file streamed into the project's blob store (`PUT /v1/blobs/:sha256`, hashed,
 * counted and stored as 1 MiB chunk rows as it arrives) against the baseline worker's `PUT /upload`
 * (hashes the stream and discards it), both under `wrangler dev`, in the same run.
 *
 * Memory: the peak RSS growth of the workerd processes during the upload (Linux VmHWM, reset with
 * /proc/<pid>/clear_refs just before), so what the project holds shows apart from what any worker
 * costs. Throughput: bytes / wall time of the PUT, client side.
 */
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import type { Row } from "./lib/results.ts";
import { startBaseline, startProject } from "./lib/processes.ts";
import { runBenchmark } from "./lib/run.ts";
import { check } from "./lib/targets.ts";

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

await runBenchmark({
  name: "upload",
  title: "Uploads: streamed into the blob store vs hash-and-discard",
  description:
    "One PUT of generated text, streamed from the client, to the project's /v1/blobs/:sha256 and to the baseline's hash-and-discard route, each on a fresh wrangler dev; peak RSS growth of workerd during the upload and throughput.",
  budgetSeconds: { full: 420, quick: 120 },
  async run(ctx) {
    const [small, large] = ctx.pick([100 * MiB, 1024 * MiB], [10 * MiB, 100 * MiB]);
    const label = (size: number) => (size >= 1024 * MiB ? `${size / 1024 / MiB} GiB` : `${size / MiB} MiB`);
    const hashes = new Map([small, large].map((size) => [size, sha256Of(size)]));
    const results: Record<string, Measurement> = {};
    for (const side of ["baseline", "project"] as const) {
      for (const size of [small, large]) {
        // A fresh worker each time: the previous upload's garbage is not in the next one's peak.
        const worker = side === "project" ? await startProject({}) : await startBaseline();
        try {
          const url = side === "project" ? `${worker.url}/v1/blobs/${hashes.get(size)}` : `${worker.url}/upload`;
          ctx.log(`${side}: warm-up, then ${label(size)}`);
          await measure(side === "project" ? `${worker.url}/v1/blobs/${sha256Of(MiB)}` : url, MiB, worker.pid);
          results[`${side} ${label(size)}`] = await measure(url, size, worker.pid);
        } finally {
          await worker.stop();
        }
      }
    }
    ctx.data["measurements"] = results;
    const get = (side: string, size: number) => results[`${side} ${label(size)}`] as Measurement;
    const projectLarge = get("project", large);
    const baselineLarge = get("baseline", large);
    const projectSmall = get("project", small);
    const growthOverBaseline = projectLarge.growthMb - baselineLarge.growthMb;
    const growthRatio = projectLarge.growthMb / Math.max(1, projectSmall.growthMb);
    const throughputRatio = projectLarge.mbPerSecond / baselineLarge.mbPerSecond;
    const round = (x: number) => Math.round(x * 10) / 10;
    const row = (side: "baseline" | "project", size: number): Row => {
      const m = get(side, size);
      const what = side === "project" ? "project (hashed, counted, stored in 1 MiB chunks)" : "baseline (hashed and discarded)";
      return {
        metric: `${what}, ${label(size)}: ${round(m.mbPerSecond)} MB/s, peak RSS growth ${round(m.growthMb)} MB (from ${round(m.rssBeforeMb)} MB)`,
        unit: "s",
        value: Math.round(m.seconds * 100) / 100,
      };
    };
    return {
      rows: [row("baseline", small), row("baseline", large), row("project", small), row("project", large)],
      targets: [
        check(`RSS growth over the baseline's, ${label(large)} (MB)`, "<=", 64, round(growthOverBaseline), "MB"),
        check(`RSS growth ${label(large)} / ${label(small)} (nothing proportional to size)`, "<=", 3, round(growthRatio), "x"),
        check(`throughput / baseline's, ${label(large)}`, ">=", 0.5, Math.round(throughputRatio * 100) / 100, "x"),
      ],
    };
  },
});
