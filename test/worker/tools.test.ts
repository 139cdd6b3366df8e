/**
 * The tool set through the official SDK client inside workerd: MCP prompts, DISABLED_TOOLS,
 * LOCALE, thinkdeep's default thinking mode, chat's Zen-compatible fields, challenge, apilookup.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { ALL_TOOLS } from "../../src/tools";
import { connectClient, testEnv } from "./helpers";
import { mockUpstream } from "./upstream-mock";

const GEMINI = { GEMINI_API_KEY: "test-key", GEMINI_BASE_URL: "https://gemini.test" };

afterEach(() => {
  vi.restoreAllMocks();
});

async function call(vars: Record<string, string>, name: string, args: Record<string, unknown>) {
  const client = await connectClient(testEnv(vars));
  const result = await client.callTool({ name, arguments: args });
  await client.close();
  const text = (result.content as Array<{ text: string }>)[0]?.text ?? "";
  return { isError: result.isError === true, text, json: result.isError ? undefined : (JSON.parse(text) as Record<string, any>) };
}

describe("MCP prompts", () => {
  it("offers a slash command per tool, the thinkdeeper shortcut and continue, each naming its tool", async () => {
    const client = await connectClient(testEnv(GEMINI));
    const { prompts } = await client.listPrompts();
    const names = prompts.map((prompt) => prompt.name);
    expect(names).toEqual(expect.arrayContaining([...ALL_TOOLS.map((tool) => tool.name), "thinkdeeper", "continue"]));
    const deeper = await client.getPrompt({ name: "thinkdeeper", arguments: { model: "pro" } });
    const text = (deeper.messages[0]?.content as { text: string }).text;
    expect(text).toContain("Use the thinkdeep tool with model 'pro'");
    expect(text).toContain("step_number 1");
    const chat = await client.getPrompt({ name: "chat" });
    expect((chat.messages[0]?.content as { text: string }).text).toContain("Use the chat tool for the task at hand.");
    const more = await client.getPrompt({ name: "continue" });
    expect((more.messages[0]?.content as { text: string }).text).toContain("continuation_id");
    await expect(client.getPrompt({ name: "no-such-prompt" })).rejects.toThrow(/Unknown prompt 'no-such-prompt'/);
    await client.close();
  });
});

describe("DISABLED_TOOLS", () => {
  it("removes tools from the list, their prompts and their calls, but never listmodels or version", async () => {
    const client = await connectClient(testEnv({ ...GEMINI, DISABLED_TOOLS: "chat, Debug,listmodels,version" }));
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).not.toContain("chat");
    expect(names).not.toContain("debug");
    expect(names).toEqual(expect.arrayContaining(["thinkdeep", "listmodels", "version"]));
    const prompts = (await client.listPrompts()).prompts.map((prompt) => prompt.name);
    expect(prompts).not.toContain("chat");
    const refused = await client.callTool({ name: "chat", arguments: { prompt: "hi" } });
    expect(refused.isError).toBe(true);
    expect((refused.content as Array<{ text: string }>)[0]?.text).toContain("Unknown tool 'chat'");
    await client.close();
  });
});

describe("LOCALE and thinking modes", () => {
  it("prefixes chat's and an expert's system prompt with the reply language", async () => {
    const sent = mockUpstream(() => "réponse");
    await call({ ...GEMINI, LOCALE: "fr-FR" }, "chat", { prompt: "Bonjour", model: "flash" });
    await call({ ...GEMINI, LOCALE: "fr-FR" }, "thinkdeep", {
      step: "Should we shard?",
      step_number: 1,
      total_steps: 1,
      next_step_required: false,
      findings: "One table is hot.",
      model: "flash",
    });
    expect(sent).toHaveLength(2);
    for (const request of sent) expect(JSON.stringify(request.body)).toContain("Always respond in fr-FR.");
  });

  it("uses DEFAULT_THINKING_MODE_THINKDEEP for thinkdeep's expert unless the call sets thinking_mode", async () => {
    const sent = mockUpstream(() => "deep");
    const args = { step: "Plan the cache.", step_number: 1, total_steps: 1, next_step_required: false, findings: "Reads dominate.", model: "gemini-2.5-pro" };
    await call({ ...GEMINI, DEFAULT_THINKING_MODE_THINKDEEP: "low" }, "thinkdeep", args);
    await call({ ...GEMINI, DEFAULT_THINKING_MODE_THINKDEEP: "low" }, "thinkdeep", { ...args, thinking_mode: "max" });
    const budgets = sent.map((request) => (request.body.generationConfig as { thinkingConfig?: { thinkingBudget: number } }).thinkingConfig?.thinkingBudget);
    // gemini-2.5-pro thinks up to 32,768 tokens: low is 8 % of it, max all of it.
    expect(budgets).toEqual([2_621, 32_768]);
  });
});

describe("chat's Zen-compatible fields", () => {
  it("accepts working_directory_absolute_path, and names a file left out for the budget in files_skipped", async () => {
    mockUpstream(() => "ok");
    // gemini-3.8-flash's 1M window leaves about 335K tokens for files: 2M characters (500K tokens) do not fit.
    const huge = { path: "/repo/huge.log", content: "x".repeat(2_000_000) };
    const small = { path: "/repo/small.py", content: "print('hi')\n" };
    const result = await call(GEMINI, "chat", {
      prompt: "Look at these",
      model: "flash",
      working_directory_absolute_path: "/repo",
      absolute_file_paths: [small, huge],
    });
    expect(result.isError).toBe(false);
    const skipped = result.json?.metadata.files_skipped as Array<{ path: string; reason: string }>;
    expect(skipped.map((file) => file.path)).toEqual(["/repo/huge.log"]);
    expect(skipped[0]?.reason).toContain("file budget");
  });
});

describe("challenge and apilookup", () => {
  it("challenge wraps the statement for a critical reassessment without calling a model", async () => {
    const sent = mockUpstream();
    const result = await call(GEMINI, "challenge", { prompt: "You are wrong about the lock order." });
    expect(result.json).toMatchObject({ status: "challenge_accepted", original_statement: "You are wrong about the lock order." });
    expect(result.json?.challenge_prompt).toContain("CRITICAL REASSESSMENT");
    expect(result.json?.challenge_prompt).toContain("You are wrong about the lock order.");
    expect(sent).toHaveLength(0);
  });

  it("apilookup returns web-search instructions for the assistant", async () => {
    const sent = mockUpstream();
    const result = await call(GEMINI, "apilookup", { prompt: "What replaced React's findDOMNode?" });
    expect(result.json).toMatchObject({ status: "web_lookup_needed", user_prompt: "What replaced React's findDOMNode?" });
    expect(result.json?.instructions).toContain("web-search");
    expect(sent).toHaveLength(0);
  });
});
