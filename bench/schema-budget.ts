/**
 * schema-budget: how much of an assistant's context the tool definitions take.
 *
 * The `tools/list` result as the server sends it (compact JSON), with every tool enabled
 * (DISABLED_TOOLS empty, as wrangler.toml sets it; checked against ALL_TOOLS in
 * src/tools/index.ts), in tokens estimated as bytes / 4, in total and per tool, with no provider
 * configured and with four providers configured (the `model` field then lists the top models).
 * The server's `instructions` (from initialize) are shown too: clients put them in the context.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { rawRpc } from "./lib/mcp.ts";
import { ROOT, startProject } from "./lib/processes.ts";
import type { Row } from "./lib/results.ts";
import { runBenchmark } from "./lib/run.ts";
import { check } from "./lib/targets.ts";

const tokens = (text: string) => Math.ceil(Buffer.byteLength(text, "utf8") / 4);

const CONFIGS: Array<{ label: string; vars: Record<string, string> }> = [
  { label: "no provider", vars: {} },
  {
    label: "4 providers",
    vars: {
      GEMINI_API_KEY: "k",
      OPENAI_API_KEY: "k",
      XAI_API_KEY: "k",
      OPENROUTER_API_KEY: "k",
      GEMINI_BASE_URL: "http://127.0.0.1:9",
      OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
    },
  },
];

/** The server's tools, by the names in ALL_TOOLS of src/tools/index.ts (the source the worker's list comes from). */
function allToolNames(): string[] {
  const source = readFileSync(join(ROOT, "src/tools/index.ts"), "utf8");
  const list = /ALL_TOOLS[^=]*=\s*\[([^\]]*)\]/.exec(source)?.[1];
  if (!list) throw new Error("src/tools/index.ts: ALL_TOOLS not found");
  return list.split(",").map((name) => name.trim()).filter(Boolean);
}

await runBenchmark({
  name: "schema-budget",
  title: "Schema budget: tools/list in tokens",
  description: "Tokens (UTF-8 bytes / 4) of the tools/list result JSON, per tool, with no provider and with four providers configured.",
  budgetSeconds: { full: 120, quick: 60 },
  async run(ctx) {
    const expected = allToolNames();
    const rows: Row[] = [];
    let worst = 0;
    const details: Record<string, unknown> = {};
    const workers = await Promise.all(CONFIGS.map((config) => startProject(config.vars)));
    for (const [index, config] of CONFIGS.entries()) {
      const worker = workers[index]!;
      const listed = await rawRpc(worker.mcpUrl, "tools/list");
      const result = listed.message?.result as { tools: Array<{ name: string }> } | undefined;
      if (listed.status !== 200 || !result?.tools?.length) throw new Error(`tools/list failed (${config.label}): HTTP ${listed.status}`);
      const names = result.tools.map((tool) => tool.name);
      const missing = expected.filter((name) => !names.includes(name));
      if (missing.length > 0 || names.length !== expected.length) {
        throw new Error(`tools/list (${config.label}) lists ${names.length} tools, the server has ${expected.length}; missing: ${missing.join(", ") || "none"}`);
      }
      const init = await rawRpc(worker.mcpUrl, "initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "bench", version: "1" } });
      const instructions = (init.message?.result as { instructions?: string } | undefined)?.instructions ?? "";
      const total = tokens(JSON.stringify(result));
      worst = Math.max(worst, total);
      details[config.label] = { totalTokens: total, bytes: Buffer.byteLength(JSON.stringify(result)), instructionsTokens: tokens(instructions) };
      rows.push({ metric: `tools/list, ${config.label}: all ${result.tools.length} tools enabled`, unit: "tokens", value: total });
      for (const tool of [...result.tools].sort((a, b) => tokens(JSON.stringify(b)) - tokens(JSON.stringify(a)))) {
        rows.push({ metric: `  ${tool.name}`, unit: "tokens", value: tokens(JSON.stringify(tool)) });
      }
      rows.push({ metric: `  (server instructions, ${config.label})`, unit: "tokens", value: tokens(instructions) });
    }
    await Promise.all(workers.map((worker) => worker.stop()));
    ctx.data["configs"] = details;
    return { rows, targets: [check("tools/list tokens (largest configuration)", "<=", 5_000, worst, "tokens")] };
  },
});
