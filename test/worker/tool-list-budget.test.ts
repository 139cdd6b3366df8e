import { describe, expect, it } from "vitest";
import { ALL_TOOLS } from "../../src/tools";
import { callWorker, mcpPost, rpcMessages, testEnv } from "./helpers";

/** The largest configuration: four providers, so the `model` field lists the top models. */
const FOUR_PROVIDERS = { GEMINI_API_KEY: "k", OPENAI_API_KEY: "k", XAI_API_KEY: "k", OPENROUTER_API_KEY: "k" };
/** The budget for the whole tools/list result, in tokens estimated as JSON bytes / 4. */
const BUDGET_TOKENS = 5_000;

const tokens = (value: unknown) => Math.ceil(new TextEncoder().encode(JSON.stringify(value)).byteLength / 4);

describe("tools/list budget", () => {
  it(`keeps every tool's schema within ${BUDGET_TOKENS} tokens in all`, async () => {
    const response = await callWorker(mcpPost({ jsonrpc: "2.0", id: 1, method: "tools/list" }), testEnv(FOUR_PROVIDERS));
    const [message] = await rpcMessages(response);
    const result = message?.result as { tools: Array<{ name: string }> };
    expect(result.tools.map((tool) => tool.name).sort()).toEqual(ALL_TOOLS.map((tool) => tool.name).sort());
    const perTool = Object.fromEntries(result.tools.map((tool) => [tool.name, tokens(tool)]));
    expect(tokens(result), `tokens per tool: ${JSON.stringify(perTool)}`).toBeLessThanOrEqual(BUDGET_TOKENS);
  });
});
