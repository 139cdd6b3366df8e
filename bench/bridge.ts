/**
 * bridge: what the local bridge saves on a repeated call. The assistant calls chat twice through
 * the bridge (stdio) with the same directory of files; the first call uploads what the server
 * lacks, the second finds everything present (one batch presence check) and uploads 0 bytes.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { geminiVars, ROOT, startProject, startUpstream } from "./lib/processes.ts";
import type { Row } from "./lib/results.ts";
import { runBenchmark } from "./lib/run.ts";
import { summarize } from "./lib/stats.ts";
import { check } from "./lib/targets.ts";

function summaryLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line.startsWith("zen-bridge: uploaded "));
}

await runBenchmark({
  name: "bridge",
  title: "Bridge: a repeated call with unchanged files",
  description: "chat through the stdio bridge with a directory of files, first call vs repeated calls (same files, nothing to upload).",
  budgetSeconds: { full: 240, quick: 120 },
  async run(ctx) {
    const files = ctx.pick(200, 20);
    const fileBytes = 100 * 1024;
    const upstream = await startUpstream();
    const project = await startProject(geminiVars(upstream.url));
    const dir = mkdtempSync(join(tmpdir(), "zen-bench-bridge-"));
    const source = join(dir, "src");
    mkdirSync(source);
    for (let i = 0; i < files; i++) {
      const line = `export const value${i} = ${i}; // padding to make the file realistic in size\n`;
      writeFileSync(join(source, `module${i}.ts`), line.repeat(Math.ceil(fileBytes / line.length)).slice(0, fileBytes));
    }
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [join(ROOT, "bin/zen-mcp-worker.js"), "bridge", "--url", project.mcpUrl, "--workspace", "bench"],
      cwd: dir,
      stderr: "pipe",
    });
    let stderr = "";
    transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const client = new Client({ name: "bench-bridge", version: "1.0.0" });
    try {
      await client.connect(transport);
      const call = async () => {
        const started = performance.now();
        const result = await client.callTool({ name: "chat", arguments: { prompt: "Review this module set.", model: "flash", absolute_file_paths: [source] } });
        if (result.isError) throw new Error(`chat through the bridge failed: ${JSON.stringify(result.content).slice(0, 300)}`);
        return performance.now() - started;
      };
      const first = await call();
      const repeats: number[] = [];
      for (const _ of ctx.bounded(ctx.pick(10, 3), 60_000, "repeats")) repeats.push(await call());
      for (let i = 0; i < 50 && summaryLines(stderr).length < repeats.length + 1; i++) await sleep(20);
      const lines = summaryLines(stderr);
      const uploaded = lines.map((line) => Number(/uploaded (\d+) bytes/.exec(line)?.[1] ?? Number.NaN));
      ctx.data["summaryLines"] = lines;
      const repeat = summarize(repeats);
      const rows: Row[] = [
        { metric: `first call: ${files} files (${Math.round((files * fileBytes) / 1024 / 1024)} MiB), ${uploaded[0] ?? "?"} bytes uploaded`, unit: "ms", value: first },
        { metric: "repeated call, unchanged files", unit: "ms", n: repeat.n, min: repeat.min, median: repeat.median, p99: repeat.p99, ratio: repeat.median / first, baseline: "first call" },
        { metric: "time saved per repeated call", unit: "ms", value: first - repeat.median },
      ];
      return {
        rows,
        targets: [check("bytes uploaded by repeated calls", "==", 0, uploaded.slice(1).reduce((a, b) => a + b, 0), "bytes")],
      };
    } finally {
      await client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
});
