import { afterEach, describe, expect, it, vi } from "vitest";
import { azure } from "../../../src/providers/azure";
import { custom } from "../../../src/providers/custom";
import { dial } from "../../../src/providers/dial";
import { openrouter } from "../../../src/providers/openrouter";
import { xai } from "../../../src/providers/xai";
import { ALL_PROVIDERS, QUICK, data, mockFetch, providerOf, registryWith, resolve, sseResponse } from "./support";

afterEach(() => {
  vi.restoreAllMocks();
});

const answer = (model: string) => Response.json({ model, choices: [{ message: { content: "ok" }, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } });
const request = { systemPrompt: "sys", prompt: "question", temperature: 0.4, maxOutputTokens: 256 };

describe("OpenAI-compatible providers", () => {
  it("X.AI: bearer key on {base}/chat/completions, max_tokens", async () => {
    const sent = mockFetch(answer("grok-4-0709"));
    const response = await xai.generate(providerOf(ALL_PROVIDERS, "xai"), resolve("grok"), request, QUICK);
    expect(sent[0]?.url.href).toBe("https://xai.test/v1/chat/completions");
    expect(sent[0]?.headers.get("authorization")).toBe("Bearer xai-secret");
    expect(sent[0]?.body).toEqual({
      model: "grok-4",
      messages: [
        { role: "system", content: "sys" },
        { role: "user", content: "question" },
      ],
      stream: false,
      temperature: 0.4,
      max_tokens: 256,
    });
    expect(response).toMatchObject({ text: "ok", provider: "xai", modelName: "grok-4-0709" });
  });

  it("OpenRouter: bearer key plus HTTP-Referer and X-Title; unknown vendor/model names pass whole", async () => {
    const sent = mockFetch(answer("mistralai/mistral-small:free"));
    const vars = ALL_PROVIDERS;
    const model = registryWith(vars).resolve("mistralai/mistral-small:free");
    await openrouter.generate(providerOf(vars, "openrouter"), model, request, QUICK);
    expect(sent[0]?.url.href).toBe("https://openrouter.test/api/v1/chat/completions");
    expect(sent[0]?.headers.get("authorization")).toBe("Bearer or-secret");
    expect(sent[0]?.headers.get("http-referer")).toBe("https://example.test/app");
    expect(sent[0]?.headers.get("x-title")).toBe("Test App");
    expect(sent[0]?.body["model"]).toBe("mistralai/mistral-small:free");
  });

  it("DIAL: Api-Key header and a per-deployment URL with api-version", async () => {
    const sent = mockFetch(answer("o3-2025-04-16"));
    await dial.generate(providerOf(ALL_PROVIDERS, "dial"), resolve("o3-2025-04-16"), request, QUICK);
    expect(sent[0]?.url.href).toBe("https://dial.test/openai/deployments/o3-2025-04-16/chat/completions?api-version=2024-12-01-preview");
    expect(sent[0]?.headers.get("api-key")).toBe("dial-secret");
    expect(sent[0]?.headers.get("authorization")).toBeNull();
    // o3 takes no temperature, and so no token cap either.
    expect(sent[0]?.body).toEqual({
      model: "o3-2025-04-16",
      messages: [
        { role: "system", content: "sys" },
        { role: "user", content: "question" },
      ],
      stream: false,
    });
  });

  it("Azure: the deployment in the URL and as model, the api-key header, max_completion_tokens", async () => {
    const sent = mockFetch(answer("gpt-4o-2024-11-20"));
    const response = await azure.generate(providerOf(ALL_PROVIDERS, "azure"), resolve("gpt-4o"), request, QUICK);
    expect(sent[0]?.url.href).toBe("https://res.openai.azure.test/openai/deployments/prod-gpt4o/chat/completions?api-version=2025-04-01-preview");
    expect(sent[0]?.headers.get("api-key")).toBe("azure-secret");
    expect(sent[0]?.headers.get("authorization")).toBeNull();
    expect(sent[0]?.body).toMatchObject({ model: "prod-gpt4o", temperature: 0.4, max_completion_tokens: 256 });
    expect(response.provider).toBe("azure");
  });

  it("Azure: Responses API models go to {endpoint}/openai/responses", async () => {
    const sent = mockFetch(
      Response.json({ status: "completed", model: "gpt-5-codex", output: [{ type: "message", content: [{ type: "output_text", text: "done" }] }] }),
    );
    // Without OpenAI configured, the name resolves to the Azure deployment.
    const { OPENAI_API_KEY: _, ...azureFirst } = ALL_PROVIDERS;
    const model = registryWith(azureFirst).resolve("gpt-5-codex");
    expect(model.provider.id).toBe("azure");
    const response = await azure.generate(providerOf(azureFirst, "azure"), model, request, QUICK);
    expect(sent[0]?.url.href).toBe("https://res.openai.azure.test/openai/responses?api-version=2025-04-01-preview");
    expect(sent[0]?.body).toMatchObject({ model: "codex-dep", reasoning: { effort: "medium" }, store: false });
    expect(response.text).toBe("done");
  });

  it("custom: no Authorization without a key, and an Ollama tag goes back on the canonical name", async () => {
    const sent = mockFetch(answer("llama3.2:3b"));
    const vars = ALL_PROVIDERS;
    const model = registryWith(vars).resolve("local-llama:3b");
    expect(model).toMatchObject({ requestedName: "local-llama", option: "3b" });
    await custom.generate(providerOf(vars, "custom"), model, request, QUICK);
    expect(sent[0]?.url.href).toBe("http://ollama.test:11434/v1/chat/completions");
    expect(sent[0]?.headers.get("authorization")).toBeNull();
    expect(sent[0]?.body).toMatchObject({ model: "llama3.2:3b", max_tokens: 256 });
  });

  it("custom: a configured key is sent as a bearer token", async () => {
    const sent = mockFetch(answer("llama3.2"));
    const vars = { ...ALL_PROVIDERS, CUSTOM_API_KEY: "local-key" };
    await custom.generate(providerOf(vars, "custom"), registryWith(vars).resolve("llama3.2"), request, QUICK);
    expect(sent[0]?.headers.get("authorization")).toBe("Bearer local-key");
    expect(sent[0]?.body["model"]).toBe("llama3.2");
  });

  it("OpenRouter: an error inside a 200 answer is classified by its code, also mid-stream", async () => {
    const vars = ALL_PROVIDERS;
    const model = registryWith(vars).resolve("sonnet");
    mockFetch(Response.json({ error: { code: 400, message: "This endpoint's maximum context length is 200000 tokens" } }));
    await expect(openrouter.generate(providerOf(vars, "openrouter"), model, request, QUICK)).rejects.toMatchObject({ kind: "final", status: 400 });

    vi.restoreAllMocks();
    const sent = mockFetch(
      sseResponse([data({ choices: [{ index: 0, delta: { content: "par" } }] }), data({ error: { code: 502, message: "Provider returned error" } })]),
      sseResponse([data({ choices: [{ index: 0, delta: { content: "full" }, finish_reason: "stop" }] }), "data: [DONE]\n\n"]),
    );
    const response = await openrouter.generate(providerOf(vars, "openrouter"), model, request, { ...QUICK, onProgress: () => undefined });
    expect(sent).toHaveLength(2);
    expect(response.text).toBe("full");
  });
});
