/**
 * Not a benchmark: a CPU profile of the project worker (inside workerd, through its inspector)
 * while a scenario runs, to find where a benchmark's time goes.
 *
 *   node bench/profile.ts [--scenario chat|continuation|version|tools-list|initialize|echo|upstream] [--calls 200]
 *                         [--concurrency 1] [--first-byte-ms 0] [--interval-us 250] [--commit <sha>]
 *
 * `echo` and `upstream` profile the baseline worker (bench/baseline), the others the project, as
 * it is or, with --commit, as it was at that commit of this repository (bundled from git), so two
 * versions' profiles of one scenario can be set side by side.
 *
 * Prints the top functions and files by self time and writes bench/results/profiles/<scenario>.cpuprofile
 * (open it in Chrome DevTools > Performance, or VS Code).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cleanupAll, installSignalHandlers } from "./lib/cleanup.ts";
import { connectInspector, inclusiveTimes, selfTimes, type CpuProfile } from "./lib/inspector.ts";
import { CHAT_PROMPT, continuationIds } from "./lib/chat-calls.ts";
import { closeAll, connectMany, ok, rawRpc, timedCall, type Client } from "./lib/mcp.ts";
import { geminiVars, startUpstream } from "./lib/processes.ts";
import { commitConfig, workerConfig } from "./lib/snapshot.ts";
import { RESULTS_DIR } from "./lib/results.ts";
import { textTable } from "./lib/table.ts";
import { spawnWrangler, waitUntilReady } from "./lib/wrangler.ts";

const { values } = parseArgs({
  options: {
    scenario: { type: "string", default: "chat" },
    calls: { type: "string", default: "200" },
    concurrency: { type: "string", default: "1" },
    top: { type: "string", default: "30" },
    "first-byte-ms": { type: "string", default: "0" },
    "interval-us": { type: "string", default: "250" },
    commit: { type: "string" },
  },
});
const scenario = values.scenario ?? "chat";
const calls = Math.min(5_000, Number(values.calls));
const concurrency = Math.min(256, Number(values.concurrency));
installSignalHandlers();

let code = 0;
try {
  const upstream = await startUpstream();
  await upstream.setLatency({ firstByteMs: Number(values["first-byte-ms"]) });
  const baseline = scenario === "echo" || scenario === "upstream";
  const dev = await spawnWrangler(
    baseline
      ? { config: workerConfig("baseline"), vars: { UPSTREAM_URL: upstream.url } }
      : { config: values.commit ? commitConfig(values.commit) : workerConfig("project"), vars: geminiVars(upstream.url) },
  );
  await waitUntilReady(dev, async () => (await fetch(`${dev.url}/health`)).ok, 120_000, 50);
  const clients: Client[] = await connectMany(dev.mcpUrl, concurrency);
  // Continuations of threads of 1-20 exchanges (a new thread every 20), one sequence per client.
  const continuation = new Map(clients.map((client) => [client, continuationIds(client)]));
  const one = async (client: Client, i: number) => {
    if (scenario === "chat") ok(await timedCall(client, "chat", { prompt: `profile ${i}`, model: "flash" }), "chat");
    else if (scenario === "continuation") ok(await timedCall(client, "chat", { prompt: CHAT_PROMPT, continuation_id: await continuation.get(client)!() }), "continuation");
    else if (scenario === "version") ok(await timedCall(client, "version", {}), "version");
    else if (scenario === "tools-list") await client.listTools();
    else if (scenario === "echo") ok(await timedCall(client, "echo", { text: `profile ${i}` }), "echo");
    else if (scenario === "upstream") ok(await timedCall(client, "upstream", { prompt: `profile ${i}` }), "upstream");
    else if (scenario === "initialize") await rawRpc(dev.mcpUrl, "initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "p", version: "1" } });
    else throw new Error(`unknown scenario ${scenario}`);
  };
  const load = async (count: number) => {
    let next = 0;
    const deadline = performance.now() + 120_000;
    await Promise.all(
      clients.map(async (client) => {
        while (next < count && performance.now() < deadline) await one(client, next++);
      }),
    );
  };
  await load(Math.min(20, calls)); // warm-up
  const inspector = await connectInspector(dev.inspectorPort);
  await inspector.send("Profiler.enable");
  await inspector.send("Profiler.setSamplingInterval", { interval: Number(values["interval-us"]) });
  await inspector.send("Profiler.start");
  const start = performance.now();
  await load(calls);
  const wallMs = performance.now() - start;
  const { profile } = await inspector.send<{ profile: CpuProfile }>("Profiler.stop");
  inspector.close();
  await closeAll(clients);

  const dir = join(RESULTS_DIR, "profiles");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${scenario}${values.commit ? `-${values.commit}` : ""}.cpuprofile`);
  writeFileSync(path, JSON.stringify(profile));
  const { functions, files, totalMs } = selfTimes(profile);
  const top = Number(values.top);
  const idle = functions.find((f) => f.name.startsWith("(idle)"))?.ms ?? 0;
  console.log(`${scenario}: ${calls} calls, concurrency ${concurrency}, ${Math.round(wallMs)} ms wall; profile ${Math.round(totalMs)} ms, idle ${Math.round(idle)} ms`);
  console.log(`busy per call: ${((totalMs - idle) / calls).toFixed(2)} ms\n`);
  const rows = (list: typeof functions) => list.slice(0, top).map((f) => [f.name.slice(0, 110), f.ms.toFixed(1), `${(f.share * 100).toFixed(1)}%`, (f.ms / calls).toFixed(3)]);
  console.log(textTable(["function (self time)", "ms", "share", "ms/call"], rows(functions)));
  console.log();
  console.log(textTable(["file / package (self time)", "ms", "share", "ms/call"], rows(files)));
  console.log();
  console.log(textTable(["function (on the stack: inclusive)", "ms", "share", "ms/call"], rows(inclusiveTimes(profile))));
  console.log(`\nwrote ${path}`);
} catch (error) {
  console.error((error as Error)?.stack ?? String(error));
  code = 1;
} finally {
  await cleanupAll();
}
process.exit(code);
