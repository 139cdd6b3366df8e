/**
 * A deploy with only the Workers AI binding and no key: /health names the provider, listmodels
 * shows its models, and chat answers in auto mode through the MCP endpoint, with the official SDK
 * client and a double of the binding.
 */
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/core/env.ts";
import { callWorker, connectClient, testEnv } from "./helpers";
import { DONE, event, fails, reply, streamed, WorkersAiDouble } from "./providers/workers-ai-double";

function deployWith(binding: WorkersAiDouble): Env {
  return { ...testEnv(), AI: binding };
}

function textOf(result: Record<string, unknown>): string {
  return (result["content"] as Array<{ text: string }>)[0]?.text ?? "";
}

describe("a deploy with only the AI binding", () => {
  it("lists Workers AI on /health", async () => {
    const response = await callWorker(new Request("http://localhost/health"), deployWith(new WorkersAiDouble()));
    expect(await response.json()).toMatchObject({ status: "ok", providers: ["workers-ai"], models: 4 });
  });

  it("shows the Workers AI models in listmodels, and auto mode", async () => {
    const client = await connectClient(deployWith(new WorkersAiDouble()));
    const output = JSON.parse(textOf(await client.callTool({ name: "listmodels", arguments: {} }))) as { content: string; metadata: Record<string, unknown> };
    await client.close();
    expect(output.content).toContain("## Cloudflare Workers AI (AI binding, no key) ✅");
    for (const name of ["@cf/meta/llama-3.3-70b-instruct-fp8-fast", "@cf/mistralai/mistral-small-3.1-24b-instruct", "@cf/qwen/qwen2.5-coder-32b-instruct", "@cf/meta/llama-3.1-8b-instruct-fast"]) {
      expect(output.content).toContain(`\`${name}\``);
    }
    expect(output.content).toContain("## Google Gemini ❌");
    expect(output.content).toContain("- Model selection: auto");
    expect(output.metadata).toMatchObject({ configured_providers: 1, available_models: 4 });
  });

  it("answers chat in auto mode with a Workers AI model, streaming it", async () => {
    const binding = new WorkersAiDouble(streamed(event({ response: "Keep the mutex" }), event({ response: ": two writers share it." }), DONE));
    const client = await connectClient(deployWith(binding));
    const result = await client.callTool({ name: "chat", arguments: { prompt: "Is a mutex needed when two goroutines append to one slice?" } });
    await client.close();
    expect(result.isError).not.toBe(true);
    const output = JSON.parse(textOf(result)) as { status: string; content: string; metadata: Record<string, unknown> };
    expect(output.status).toBe("continuation_available");
    expect(output.content).toContain("Keep the mutex: two writers share it.");
    expect(output.metadata).toMatchObject({ model_used: "@cf/meta/llama-3.3-70b-instruct-fp8-fast", provider_used: "workers-ai" });
    expect(binding.calls).toHaveLength(1);
    expect(binding.calls[0]?.model).toBe("@cf/meta/llama-3.3-70b-instruct-fp8-fast");
    expect(binding.calls[0]?.input.stream).toBe(true);
    expect(binding.calls[0]?.input.messages.at(-1)?.content).toContain("two goroutines append to one slice");
  });

  it("answers chat with a Workers AI model named by alias", async () => {
    const binding = new WorkersAiDouble(streamed(event({ response: "Use a sync.Mutex." }), DONE));
    const client = await connectClient(deployWith(binding));
    const result = await client.callTool({ name: "chat", arguments: { prompt: "Which lock?", model: "qwen-coder" } });
    await client.close();
    expect(JSON.parse(textOf(result))).toMatchObject({ metadata: { model_used: "qwen-coder", provider_used: "workers-ai" } });
    expect(binding.calls[0]?.model).toBe("@cf/qwen/qwen2.5-coder-32b-instruct");
  });

  it("turns a final error from the binding into a tool error that says what failed", async () => {
    const failing = new WorkersAiDouble(fails("5007: No such model @cf/meta/llama-3.3-70b-instruct-fp8-fast or task"), reply("never"));
    const client = await connectClient(deployWith(failing));
    const result = await client.callTool({ name: "chat", arguments: { prompt: "Hello?" } });
    await client.close();
    expect(textOf(result)).toContain("Workers AI failed: 5007: No such model");
    expect(failing.calls).toHaveLength(1);
  });
});
