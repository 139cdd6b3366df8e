// The fake LLM upstream (test/fake-upstream) itself: protocol shapes, replay, faults, latency,
// request log and the HTTP control API, driven with plain fetch over loopback.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { listFixtures, loadFixture } from "../fake-upstream/fixtures.ts";
import type { FakeUpstream, RecordedRequest } from "../fake-upstream/server.ts";
import { e2eStack } from "../support/e2e-stack.ts";

let up: FakeUpstream;

const stack = e2eStack();

beforeAll(async () => {
  up = await stack.upstream();
});
beforeEach(() => {
  up.reset();
});

// Response JSON is walked deeply in assertions; typing every vendor shape here would add nothing.
type Json = Record<string, any>;

function post(path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(up.url + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    ...init,
  });
}

interface SseEvent {
  event: string | undefined;
  data: string;
}

/** Minimal SSE parser: events separated by blank lines, `event:` and `data:` fields. */
function parseSse(text: string): SseEvent[] {
  return text
    .split(/\r?\n\r?\n/)
    .filter((block) => block.trim() !== "")
    .map((block) => {
      let event: string | undefined;
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      return { event, data: data.join("\n") };
    });
}

/** Reads a body until it ends or errors; returns what arrived and the error, if any. */
async function readUntilError(res: Response): Promise<{ text: string; error: unknown }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, error: undefined };
      text += decoder.decode(value, { stream: true });
    }
  } catch (error) {
    return { text, error };
  }
}

const chatBody = {
  model: "gpt-5",
  messages: [
    { role: "system", content: "You are terse." },
    { role: "user", content: "first question" },
    { role: "assistant", content: "first answer" },
    { role: "user", content: "How far   is the\n moon?" },
  ],
};
// 14 + 14 + 12 + 23 characters of text; last user message with whitespace collapsed.
const chatReply = 'fake:gpt-5: chars=63 last="How far is the moon?"';

const geminiBody = {
  systemInstruction: { parts: [{ text: "Be brief." }] },
  contents: [{ role: "user", parts: [{ text: "Pick a number" }, { text: " from 1 to 10" }] }],
  generationConfig: { thinkingConfig: { thinkingBudget: 512 } },
};
const geminiReply = 'fake:gemini-2.5-flash: chars=35 last="Pick a number from 1 to 10"';

describe("OpenAI Chat Completions", () => {
  it("answers non-streaming with a chat.completion carrying the request digest and usage", async () => {
    const res = await post("/v1/chat/completions", chatBody);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    const json = (await res.json()) as Json;
    expect(json.object).toBe("chat.completion");
    expect(json.model).toBe("gpt-5");
    expect(json.choices[0].message).toMatchObject({ role: "assistant", content: chatReply });
    expect(json.choices[0].finish_reason).toBe("stop");
    expect(json.usage).toEqual({
      prompt_tokens: Math.ceil(63 / 4),
      completion_tokens: Math.ceil(chatReply.length / 4),
      total_tokens: Math.ceil(63 / 4) + Math.ceil(chatReply.length / 4),
    });
  });

  it("streams chat.completion.chunk events, a usage chunk when asked, then [DONE]", async () => {
    const res = await post("/v1/chat/completions", { ...chatBody, stream: true, stream_options: { include_usage: true } });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = parseSse(await res.text());
    expect(events.at(-1)?.data).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data) as Json);
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === "gpt-5")).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    expect(text).toBe(chatReply);
    expect(chunks.filter((c) => c.choices[0]?.delta?.content).length).toBeGreaterThanOrEqual(4);
    expect(chunks.at(-2)?.choices[0].finish_reason).toBe("stop");
    const usageChunk = chunks.at(-1)!;
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage.total_tokens).toBeGreaterThan(0);
  });

  it("routes Azure/DIAL deployment paths by suffix, taking the model from the deployment", async () => {
    const { model: _omit, ...noModel } = chatBody;
    const res = await post("/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21", noModel);
    const json = (await res.json()) as Json;
    expect(json.model).toBe("my-gpt4o");
    expect(json.choices[0].message.content).toMatch(/^fake:my-gpt4o: chars=63 /);
    const [logged] = up.requests();
    expect(logged).toMatchObject({ kind: "openai-chat", model: "my-gpt4o", query: { "api-version": "2024-10-21" } });
  });
});

describe("OpenAI Responses API", () => {
  const body = {
    model: "o3",
    instructions: "Be brief.",
    input: [{ role: "user", content: [{ type: "input_text", text: "Explain   SSE" }] }],
    reasoning: { effort: "low" },
  };
  const reply = 'fake:o3: chars=22 last="Explain SSE"';

  it("answers non-streaming with a response object, reasoning item and output_text", async () => {
    const json = (await (await post("/api/v1/responses", body)).json()) as Json;
    expect(json).toMatchObject({ object: "response", status: "completed", model: "o3", output_text: reply });
    expect(json.output.map((o: Json) => o.type)).toEqual(["reasoning", "message"]);
    expect(json.output[1].content[0]).toMatchObject({ type: "output_text", text: reply });
    expect(json.usage.input_tokens).toBe(Math.ceil(22 / 4));
    expect(json.usage.total_tokens).toBe(json.usage.input_tokens + json.usage.output_tokens);
  });

  it("streams created / output_text.delta / completed events", async () => {
    const res = await post("/v1/responses", { ...body, stream: true });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = parseSse(await res.text());
    expect(events[0]?.event).toBe("response.created");
    expect(events.at(-1)?.event).toBe("response.completed");
    for (const e of events) expect((JSON.parse(e.data) as Json).type).toBe(e.event);
    const deltas = events.filter((e) => e.event === "response.output_text.delta");
    expect(deltas.length).toBeGreaterThanOrEqual(4);
    expect(deltas.map((e) => (JSON.parse(e.data) as Json).delta).join("")).toBe(reply);
    const completed = JSON.parse(events.at(-1)!.data) as Json;
    expect(completed.response.status).toBe("completed");
    expect(completed.response.usage.output_tokens).toBeGreaterThan(0);
  });
});

describe("Gemini", () => {
  it("answers generateContent with candidates, usageMetadata and thought tokens", async () => {
    const json = (await (await post("/v1beta/models/gemini-2.5-flash:generateContent", geminiBody)).json()) as Json;
    expect(json.candidates[0]).toMatchObject({
      content: { role: "model", parts: [{ text: geminiReply }] },
      finishReason: "STOP",
      index: 0,
    });
    expect(json.modelVersion).toBe("gemini-2.5-flash");
    const u = json.usageMetadata;
    expect(u.promptTokenCount).toBe(Math.ceil(35 / 4));
    expect(u.thoughtsTokenCount).toBeGreaterThan(0);
    expect(u.totalTokenCount).toBe(u.promptTokenCount + u.candidatesTokenCount + u.thoughtsTokenCount);
  });

  it("streams streamGenerateContent?alt=sse chunks, the last with finishReason and usage", async () => {
    const res = await post("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", geminiBody);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const chunks = parseSse(await res.text()).map((e) => JSON.parse(e.data) as Json);
    expect(chunks.length).toBeGreaterThanOrEqual(4);
    expect(chunks.map((c) => c.candidates[0].content.parts[0].text).join("")).toBe(geminiReply);
    expect(chunks.at(-1)?.candidates[0].finishReason).toBe("STOP");
    expect(chunks.at(-1)?.usageMetadata.totalTokenCount).toBeGreaterThan(0);
    expect(chunks.slice(0, -1).every((c) => c.candidates[0].finishReason === undefined)).toBe(true);
  });
});

describe("Anthropic Messages", () => {
  const messagesBody = {
    model: "claude-sonnet-4-5",
    max_tokens: 1024,
    system: "You are terse.",
    messages: [{ role: "user", content: [{ type: "text", text: "How far is the moon?" }] }],
  };
  const reply = 'fake:claude-sonnet-4-5: chars=34 last="How far is the moon?"';

  it("answers a message with a text block, end_turn and usage; a thinking block first when thinking is on", async () => {
    const plain = (await (await post("/v1/messages", messagesBody)).json()) as Json;
    expect(plain).toMatchObject({ type: "message", role: "assistant", model: "claude-sonnet-4-5", stop_reason: "end_turn", content: [{ type: "text", text: reply }] });
    expect(plain.usage.input_tokens).toBe(9);
    const thinking = (await (await post("/v1/messages", { ...messagesBody, thinking: { type: "enabled", budget_tokens: 1024 } })).json()) as Json;
    expect(thinking.content.map((block: Json) => block.type)).toEqual(["thinking", "text"]);
    expect(thinking.usage.output_tokens).toBeGreaterThan(plain.usage.output_tokens);
  });

  it("streams message_start, content blocks with text_delta, message_delta and message_stop", async () => {
    const events = parseSse(await (await post("/v1/messages", { ...messagesBody, stream: true, thinking: { type: "enabled", budget_tokens: 1024 } })).text());
    const types = events.map((e) => e.event);
    expect(types[0]).toBe("message_start");
    expect(types.slice(-2)).toEqual(["message_delta", "message_stop"]);
    const deltas = events.filter((e) => e.event === "content_block_delta").map((e) => (JSON.parse(e.data) as Json).delta);
    expect(deltas[0].type).toBe("thinking_delta");
    expect(deltas.filter((d: Json) => d.type === "text_delta").map((d: Json) => d.text).join("")).toBe(reply);
    expect((JSON.parse(events.at(-2)!.data) as Json).delta.stop_reason).toBe("end_turn");
  });

  it("answers faults in Anthropic's shapes: error types, refusal, malformed events", async () => {
    up.fault([
      { kind: "anthropic", status: 529 },
      { kind: "anthropic", safetyBlock: true },
      { kind: "anthropic", malformed: true },
    ]);
    const overloaded = await post("/v1/messages", messagesBody);
    expect(overloaded.status).toBe(529);
    expect(await overloaded.json()).toEqual({ type: "error", error: { type: "overloaded_error", message: "fake upstream error 529" } });
    const refused = (await (await post("/v1/messages", messagesBody)).json()) as Json;
    expect(refused).toMatchObject({ stop_reason: "refusal", content: [] });
    const garbage = parseSse(await (await post("/v1/messages", { ...messagesBody, stream: true })).text());
    expect(garbage[0]?.event).toBe("content_block_delta");
    expect(() => JSON.parse(garbage[0]!.data)).toThrow();
  });

  it("replays its fixture: a JSON message, then a streamed one with thinking", async () => {
    const recorded = loadFixture("anthropic/messages_haiku_json_sonnet_thinking_stream");
    expect(recorded.map((it) => it.request.path)).toEqual(["/v1/messages", "/v1/messages"]);
    up.replay("messages_haiku_json_sonnet_thinking_stream");
    expect(await (await post("/v1/messages", messagesBody)).text()).toBe(recorded[0]!.response.body);
    const streamed = await post("/v1/messages", { ...messagesBody, stream: true });
    expect(streamed.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(await streamed.text()).toBe(recorded[1]!.response.body);
  });
});

describe("fixtures and replay", () => {
  it("lists and normalizes both vendors' recordings", () => {
    const names = listFixtures();
    expect(names).toContain("openai/chat_gpt5_moon_distance");
    expect(names).toContain("gemini/chat_cross_step1_flash_number");
    const [oa] = loadFixture("chat_gpt5_moon_distance");
    expect(oa?.request).toMatchObject({ method: "POST", path: "/v1/chat/completions", body: { model: "gpt-5" } });
    expect(oa?.response.status).toBe(200);
    expect((JSON.parse(oa!.response.body) as Json).object).toBe("chat.completion");
    const [gm] = loadFixture("gemini/chat_cross_step1_flash_number.json");
    expect(gm?.request.path).toBe("/models/gemini-2.5-flash:generateContent");
    expect((JSON.parse(gm!.response.body) as Json).candidates[0].content.parts[0].text).toBe("7");
    expect(() => loadFixture("no_such_fixture")).toThrow(/unknown fixture/);
  });

  it("replays an OpenAI fixture verbatim, consecutive interactions in order, then generates again", async () => {
    const recorded = loadFixture("openai/chat_gpt5_continuation");
    expect(recorded).toHaveLength(2);
    up.replay("openai/chat_gpt5_continuation");
    // A Gemini request in between does not consume the OpenAI replay.
    expect(((await (await post("/v1beta/models/m:generateContent", geminiBody)).json()) as Json).modelVersion).toBe("m");
    const first = await post("/v1/chat/completions", chatBody);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe(recorded[0]!.response.body);
    expect(await (await post("/v1/chat/completions", chatBody)).text()).toBe(recorded[1]!.response.body);
    const after = (await (await post("/v1/chat/completions", chatBody)).json()) as Json;
    expect(after.choices[0].message.content).toBe(chatReply);
  });

  it("replays a Gemini fixture verbatim", async () => {
    const [recorded] = loadFixture("gemini/chat_codegen_pro_calculator");
    up.replay("chat_codegen_pro_calculator");
    const text = await (await post("/v1beta/models/gemini-2.5-pro:generateContent", geminiBody)).text();
    expect(text).toBe(recorded!.response.body);
    expect((JSON.parse(text) as Json).usageMetadata.thoughtsTokenCount).toBe(900);
  });
});

describe("faults", () => {
  it("status + Retry-After, limited to one route kind, consumed once", async () => {
    up.fault({ kind: "gemini", status: 429, retryAfter: 2 });
    expect((await post("/v1/chat/completions", chatBody)).status).toBe(200);
    const limited = await post("/v1beta/models/gemini-2.5-flash:generateContent", geminiBody);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("2");
    expect(((await limited.json()) as Json).error.status).toBe("RESOURCE_EXHAUSTED");
    expect((await post("/v1beta/models/gemini-2.5-flash:generateContent", geminiBody)).status).toBe(200);
  });

  it("filters by model, honours times and custom bodies, and persists with times: always", async () => {
    up.fault({ model: "gpt-5", status: 503, body: "overloaded", times: 2 });
    expect((await post("/v1/chat/completions", { ...chatBody, model: "gpt-4o" })).status).toBe(200);
    const a = await post("/v1/chat/completions", chatBody);
    expect([a.status, await a.text()]).toEqual([503, "overloaded"]);
    expect((await post("/v1/chat/completions", chatBody)).status).toBe(503);
    expect((await post("/v1/chat/completions", chatBody)).status).toBe(200);

    up.fault({ status: 500, times: "always" });
    for (let i = 0; i < 3; i++) expect((await post("/v1/responses", { model: "o3", input: "x" })).status).toBe(500);
    up.clearFaults();
    expect((await post("/v1/responses", { model: "o3", input: "x" })).status).toBe(200);
  });

  it("delayMs holds the response headers back", async () => {
    up.fault({ delayMs: 300 });
    const t0 = performance.now();
    const res = await post("/v1/chat/completions", chatBody);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(280);
    expect(res.status).toBe(200);
  });

  it("malformed: invalid JSON, and SSE data lines that are not JSON", async () => {
    up.fault({ malformed: true, times: 2 });
    const plain = await post("/v1/chat/completions", chatBody);
    expect(plain.status).toBe(200);
    await expect(plain.json()).rejects.toThrow();
    const streamed = parseSse(await (await post("/v1/chat/completions", { ...chatBody, stream: true })).text());
    expect(() => JSON.parse(streamed[0]!.data)).toThrow();
  });

  it("truncate: the body read fails part-way, with no final chunk or [DONE]", async () => {
    up.fault({ truncate: true, times: 2 });
    const streamed = await readUntilError(await post("/v1/chat/completions", { ...chatBody, stream: true }));
    expect(streamed.error).toBeDefined();
    expect(streamed.text).toContain("chat.completion.chunk");
    expect(streamed.text).not.toContain("[DONE]");
    expect(streamed.text).not.toContain('"finish_reason":"stop"');

    const plain = await post("/v1beta/models/gemini-2.5-flash:generateContent", geminiBody);
    expect(plain.status).toBe(200);
    const partial = await readUntilError(plain);
    expect(partial.error).toBeDefined();
    expect(partial.text.startsWith('{"candidates"')).toBe(true);
  });

  it("endEarly: half the stream or body, then a clean end", async () => {
    up.fault({ endEarly: true, times: 2 });
    const streamed = await readUntilError(await post("/v1/chat/completions", { ...chatBody, stream: true }));
    expect(streamed.error).toBeUndefined();
    expect(streamed.text).toContain("chat.completion.chunk");
    expect(streamed.text).not.toContain("[DONE]");
    expect(streamed.text).not.toContain('"finish_reason":"stop"');

    const plain = await readUntilError(await post("/v1beta/models/gemini-2.5-flash:generateContent", geminiBody));
    expect(plain.error).toBeUndefined();
    expect(plain.text.startsWith('{"candidates"')).toBe(true);
    expect(() => JSON.parse(plain.text)).toThrow();
  });

  it("bodyIncludes: only requests carrying the marker are faulted", async () => {
    up.fault({ bodyIncludes: "CASE-7", status: 503, times: "always" });
    expect((await post("/v1/chat/completions", chatBody)).status).toBe(200);
    const marked = { ...chatBody, messages: [{ role: "user", content: "hello CASE-7" }] };
    expect((await post("/v1/chat/completions", marked)).status).toBe(503);
    expect((await post("/v1/chat/completions", marked)).status).toBe(503);
  });

  it("reset: the socket is dropped without a response", async () => {
    up.fault({ reset: true });
    await expect(post("/v1/chat/completions", chatBody)).rejects.toThrow();
    expect((await post("/v1/chat/completions", chatBody)).status).toBe(200);
  });

  it("hang: no answer until the client aborts, and the request is then released", async () => {
    up.fault({ hang: true });
    const ac = new AbortController();
    const pending = post("/v1/chat/completions", chatBody, { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 200));
    expect(up.inFlight()).toBe(1);
    ac.abort();
    await expect(pending).rejects.toThrow(/abort/i);
    await expect.poll(() => up.inFlight(), { timeout: 2000 }).toBe(0);
    expect((await post("/v1/chat/completions", chatBody)).status).toBe(200);
  });

  it("emptyText: a normal finish with empty content", async () => {
    up.fault({ emptyText: true, times: 2 });
    const chat = (await (await post("/v1/chat/completions", chatBody)).json()) as Json;
    expect(chat.choices[0]).toMatchObject({ message: { content: "" }, finish_reason: "stop" });
    const chunks = parseSse(
      await (await post("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", geminiBody)).text(),
    ).map((e) => JSON.parse(e.data) as Json);
    expect(chunks.map((c) => c.candidates[0].content.parts[0].text).join("")).toBe("");
    expect(chunks.at(-1)?.candidates[0].finishReason).toBe("STOP");
  });

  it("safetyBlock: Gemini SAFETY without text, OpenAI content_filter with null content", async () => {
    up.fault({ safetyBlock: true, times: 3 });
    const g = (await (await post("/v1beta/models/gemini-2.5-pro:generateContent", geminiBody)).json()) as Json;
    expect(g.candidates[0].finishReason).toBe("SAFETY");
    expect(g.candidates[0].content).toBeUndefined();
    const c = (await (await post("/v1/chat/completions", chatBody)).json()) as Json;
    expect(c.choices[0]).toMatchObject({ message: { content: null }, finish_reason: "content_filter" });
    const r = (await (await post("/v1/responses", { model: "o3", input: "x" })).json()) as Json;
    expect(r).toMatchObject({ status: "incomplete", incomplete_details: { reason: "content_filter" } });
  });
});

describe("request log", () => {
  it("records method, path, query, lowercased headers, parsed body, kind and model", async () => {
    await post("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", geminiBody, {
      headers: { "content-type": "application/json", "X-Goog-Api-Key": "k-123" },
    });
    await fetch(`${up.url}/v1/chat/completions`, { method: "POST", body: "not json" });
    await fetch(`${up.url}/v1/models`);
    const log: RecordedRequest[] = up.requests();
    expect(log).toHaveLength(3);
    expect(log[0]).toMatchObject({
      method: "POST",
      path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
      query: { alt: "sse" },
      body: geminiBody,
      kind: "gemini",
      model: "gemini-2.5-flash",
      stream: true,
    });
    expect(log[0]!.headers["x-goog-api-key"]).toBe("k-123");
    expect(log[1]).toMatchObject({ body: "not json", kind: "openai-chat", model: null });
    expect(log[2]).toMatchObject({ method: "GET", kind: "unknown", body: null });
    up.clearRequests();
    expect(up.requests()).toEqual([]);
  });

  it("accepts large bodies and rejects those over 50 MB with 413", async () => {
    const big = "x".repeat(12 * 1024 * 1024);
    const ok = await post("/v1/chat/completions", { model: "gpt-5", messages: [{ role: "user", content: big }] });
    expect(((await ok.json()) as Json).choices[0].message.content).toMatch(/^fake:gpt-5: chars=12582912 /);
    const tooBig = await fetch(`${up.url}/v1/chat/completions`, { method: "POST", body: "y".repeat(50 * 1024 * 1024 + 1) });
    expect(tooBig.status).toBe(413);
  });
});

describe("HTTP control API", () => {
  async function control(method: string, path: string, body?: unknown): Promise<Json> {
    const res = await fetch(`${up.url}/__control${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
    return { status: res.status, json: (await res.json()) as unknown };
  }

  it("drives faults, latency, replay, the log and reset over HTTP", async () => {
    expect(await control("GET", "/health")).toEqual({ status: 200, json: { ok: true, inFlight: 0 } });
    expect((await control("GET", "/fixtures")).json).toEqual(listFixtures());

    expect((await control("POST", "/faults", [{ status: 418, kind: "openai-responses", times: "always" }])).json).toMatchObject({ queued: 1 });
    expect((await post("/v1/responses", { model: "o3", input: "x" })).status).toBe(418);
    expect((await post("/v1/responses", { model: "o3", input: "x" })).status).toBe(418);
    await control("DELETE", "/faults");
    expect((await post("/v1/responses", { model: "o3", input: "x" })).status).toBe(200);

    await control("POST", "/replay", { name: "openai/chat_cross_step2_gpt5_reminder" });
    const replayed = (await (await post("/v1/chat/completions", chatBody)).json()) as Json;
    expect(replayed.choices[0].message.content).toBe("7");

    await control("POST", "/latency", { firstByteMs: 250 });
    const t0 = performance.now();
    await post("/v1/chat/completions", chatBody);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(230);

    const logged = await control("GET", "/requests");
    expect((logged.json as RecordedRequest[]).map((r) => r.kind)).toEqual([
      "openai-responses",
      "openai-responses",
      "openai-responses",
      "openai-chat",
      "openai-chat",
    ]);
    await control("DELETE", "/requests");
    expect((await control("GET", "/requests")).json).toEqual([]);

    await control("POST", "/faults", { status: 500, times: "always" });
    await control("POST", "/reset");
    const t1 = performance.now();
    expect((await post("/v1/chat/completions", chatBody)).status).toBe(200);
    expect(performance.now() - t1).toBeLessThan(230); // latency cleared too
    expect(up.requests()).toHaveLength(1);

    expect((await control("POST", "/replay", { name: "nope" })).status).toBe(400);
    expect((await control("GET", "/nothing")).status).toBe(404);
  });
});

describe("latency and concurrency", () => {
  it("serves 200 concurrent slow requests in parallel, streaming with chunk delays", async () => {
    up.setLatency({ firstByteMs: 300, chunkDelayMs: 20 });
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const stream = i % 2 === 0;
        const res = await post("/v1/chat/completions", { ...chatBody, stream });
        return { status: res.status, text: await res.text(), stream };
      }),
    );
    const elapsed = performance.now() - t0;
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results.filter((r) => r.stream).every((r) => r.text.endsWith("data: [DONE]\n\n"))).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(10_000);
    expect(up.requests()).toHaveLength(200);
  });
});

describe("CLI", () => {
  it("prints its URL, serves, and exits cleanly on SIGTERM", async () => {
    const child = spawn(process.execPath, ["test/fake-upstream/server.ts", "--port", "0"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const [line] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
    const match = /^fake-upstream listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
    expect(match).not.toBeNull();
    const health = (await (await fetch(`${match![1]}/__control/health`)).json()) as Json;
    expect(health.ok).toBe(true);
    child.kill("SIGTERM");
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(0);
  });
});
