/**
 * startup: what a deploy uploads and how long a cold `wrangler dev` takes to answer.
 *
 * 1. Bundle: `wrangler deploy --dry-run --outdir <tmp> --metafile` (offline), the uploaded modules
 *    gzipped here with node:zlib (level 9), and the bytes each dependency contributes (esbuild
 *    metafile, bytes in the output before compression), for the project and the baseline.
 * 2. Cold start: from spawn() of `wrangler dev` (fresh state directory) to the first answered
 *    `tools/list`, polled every 10 ms, project and baseline alternating (ABBA).
 */
import { statSync } from "node:fs";
import { bundle } from "./lib/bundle.ts";
import { rawRpc } from "./lib/mcp.ts";
import { BASELINE_CONFIG, PROJECT_CONFIG } from "./lib/processes.ts";
import type { Row } from "./lib/results.ts";
import { runBenchmark } from "./lib/run.ts";
import { pairedRatio, summarize } from "./lib/stats.ts";
import { check } from "./lib/targets.ts";
import { spawnWrangler, waitUntilReady } from "./lib/wrangler.ts";

/** ms from spawn to the first tools/list answered with tools. */
async function coldStart(config: string, vars: Record<string, string>): Promise<number> {
  const dev = await spawnWrangler({ config, vars });
  try {
    let answeredAt = 0;
    await waitUntilReady(
      dev,
      async () => {
        const reply = await rawRpc(dev.mcpUrl, "tools/list", {}, AbortSignal.timeout(10_000));
        const tools = (reply.message?.result as { tools?: unknown[] } | undefined)?.tools;
        if (reply.status !== 200 || !Array.isArray(tools) || tools.length === 0) return false;
        answeredAt = performance.now();
        return true;
      },
      120_000,
      10,
    );
    return answeredAt - dev.spawnedAt;
  } finally {
    await dev.stop();
  }
}

await runBenchmark({
  name: "startup",
  title: "Startup: bundle size and cold start",
  description:
    "Bundle from wrangler deploy --dry-run (gzip level 9, per-package bytes from the esbuild metafile); cold start = spawn of wrangler dev to the first answered tools/list, project vs baseline alternating.",
  budgetSeconds: { full: 300, quick: 100 },
  async run(ctx) {
    const project = bundle(PROJECT_CONFIG, ctx.log);
    const baseline = bundle(BASELINE_CONFIG, ctx.log);
    ctx.data["bundle"] = { project, baseline };

    const starts = ctx.pick(6, 1);
    const samples = { project: [] as number[], baseline: [] as number[] };
    const projectVars = { GEMINI_API_KEY: "bench-key", GEMINI_BASE_URL: "http://127.0.0.1:9" };
    for (const i of ctx.bounded(starts, ctx.pick(240_000, 70_000), "cold starts")) {
      // ABBA: P B, B P, P B, ...
      const order = i % 2 === 0 ? (["project", "baseline"] as const) : (["baseline", "project"] as const);
      for (const side of order) {
        const ms = side === "project" ? await coldStart(PROJECT_CONFIG, projectVars) : await coldStart(BASELINE_CONFIG, {});
        samples[side].push(ms);
        ctx.log(`cold start ${i + 1}/${starts} ${side}: ${Math.round(ms)} ms`);
      }
    }
    ctx.data["coldStartMs"] = samples;

    const p = summarize(samples.project);
    const b = summarize(samples.baseline);
    const ratio = pairedRatio(samples.project, samples.baseline);
    const kib = (bytes: number) => Math.round((bytes / 1024) * 10) / 10;
    const rows: Row[] = [
      {
        metric: "bundle gzip, project",
        unit: "KiB",
        value: kib(project.gzipBytes),
        ratio: project.gzipBytes / baseline.gzipBytes,
        baseline: "baseline",
        target: check("bundle gzip", "<=", 1024, kib(project.gzipBytes), "KiB"),
      },
      { metric: "bundle gzip, baseline (bare SDK)", unit: "KiB", value: kib(baseline.gzipBytes) },
      { metric: "bundle raw, project", unit: "KiB", value: kib(project.rawBytes) },
      ...project.byPackage.slice(0, 10).map(
        (entry, i): Row => ({ metric: `  #${i + 1} ${entry.name} (${(entry.share * 100).toFixed(1)}% of bundle)`, unit: "KiB", value: kib(entry.bytes) }),
      ),
      {
        metric: "cold start to first tools/list, project",
        unit: "ms",
        n: p.n,
        min: p.min,
        median: p.median,
        p99: p.p99,
        ratio,
        baseline: "baseline",
        target: check("cold start project / baseline", "<=", 1.5, Math.round(ratio * 1000) / 1000, "x"),
      },
      { metric: "cold start to first tools/list, baseline", unit: "ms", n: b.n, min: b.min, median: b.median, p99: b.p99 },
    ];
    if (!statSync(PROJECT_CONFIG).isFile()) throw new Error("no wrangler.toml");
    return { rows };
  },
});
