import { afterEach, describe, expect, it, vi } from "vitest";
import { classifyStatus, postJson, readSse, retryAfterOf, type SseEvent } from "../../../src/providers/http";
import { ProviderError } from "../../../src/providers/types";
import { ALL_PROVIDERS, QUICK, mockFetch, providerOf } from "./support";

afterEach(() => {
  vi.restoreAllMocks();
});

/** A byte stream delivering the given pieces as separate chunks. */
function chunked(pieces: Array<string | Uint8Array>, onCancel?: () => void): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const piece = pieces[index++];
      if (piece === undefined) controller.close();
      else controller.enqueue(typeof piece === "string" ? encoder.encode(piece) : piece);
    },
    cancel() {
      onCancel?.();
    },
  });
}

async function collect(events: AsyncIterable<SseEvent>): Promise<SseEvent[]> {
  const all: SseEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

const upstream = { provider: providerOf(ALL_PROVIDERS, "openai"), url: "https://openai.test/v1/chat/completions", headers: { authorization: "Bearer sk-live-123456" }, body: { model: "m" } };
const echo = (json: unknown) => json;

describe("readSse", () => {
  it("parses events split anywhere, with CRLF, comments, event names and multi-line data", async () => {
    const stream = chunked([": keep-alive\r\n", "event: delta\r\nda", "ta: {\"a\":", "1}\r", "\n\r\ndata: line1\ndata: line2\n", "\nid: 7\nretry: 10\ndata: x\n\n"]);
    expect(await collect(readSse(stream))).toEqual([
      { event: "delta", data: '{"a":1}' },
      { event: "message", data: "line1\nline2" },
      { event: "message", data: "x" },
    ]);
  });

  it("decodes a multi-byte character split across chunks", async () => {
    const bytes = new TextEncoder().encode("data: π≈3.14\n\n");
    expect(await collect(readSse(chunked([bytes.slice(0, 7), bytes.slice(7)])))).toEqual([{ event: "message", data: "π≈3.14" }]);
  });

  it("keeps a last event without its blank line but drops a partial last line", async () => {
    expect(await collect(readSse(chunked(["data: whole\n"])))).toEqual([{ event: "message", data: "whole" }]);
    expect(await collect(readSse(chunked(["data: a\n\ndata: {\"cut"])))).toEqual([{ event: "message", data: "a" }]);
  });

  it("cancels the byte stream when the consumer stops early", async () => {
    let cancelled = false;
    const stream = chunked(["data: 1\n\n", "data: 2\n\n", "data: 3\n\n"], () => {
      cancelled = true;
    });
    for await (const event of readSse(stream)) {
      expect(event.data).toBe("1");
      break;
    }
    expect(cancelled).toBe(true);
  });
});

describe("failure classification", () => {
  it("retries 429 and 5xx, not 4xx, quota or context length", () => {
    expect(classifyStatus(429, '{"error":{"message":"Rate limit reached","type":"requests"}}')).toBe("retryable");
    expect(classifyStatus(429, '{"error":{"message":"You exceeded your current quota","code":"insufficient_quota"}}')).toBe("final");
    expect(classifyStatus(429, '{"error":{"message":"context_length_exceeded"}}')).toBe("final");
    for (const status of [500, 502, 503, 504, 408]) expect(classifyStatus(status, "")).toBe("retryable");
    for (const status of [400, 401, 403, 404, 413, 422]) expect(classifyStatus(status, "")).toBe("final");
    expect(classifyStatus(400, "This model's maximum context length is 128000 tokens")).toBe("final");
  });

  it("reads Retry-After as seconds, as an HTTP date, and OpenAI's retry-after-ms", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterOf(new Headers({ "retry-after": "3" }), now)).toBe(3_000);
    expect(retryAfterOf(new Headers({ "retry-after": "1.5" }), now)).toBe(1_500);
    expect(retryAfterOf(new Headers({ "retry-after": "Thu, 01 Jan 2026 00:00:07 GMT" }), now)).toBe(7_000);
    expect(retryAfterOf(new Headers({ "retry-after": "Wed, 31 Dec 2025 23:59:00 GMT" }), now)).toBe(0);
    expect(retryAfterOf(new Headers({ "retry-after-ms": "250", "retry-after": "9" }), now)).toBe(250);
    expect(retryAfterOf(new Headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(retryAfterOf(new Headers(), now)).toBeUndefined();
  });
});

describe("postJson", () => {
  it("retries a 503 and returns the next answer", async () => {
    const sent = mockFetch(Response.json({ error: { message: "overloaded" } }, { status: 503 }), Response.json({ ok: true }));
    await expect(postJson(upstream, QUICK, echo)).resolves.toEqual({ ok: true });
    expect(sent).toHaveLength(2);
  });

  it("gives up after maxAttempts with the provider, status and upstream message", async () => {
    const sent = mockFetch(Response.json({ error: { message: "The server is overloaded" } }, { status: 503 }));
    const error = await postJson(upstream, QUICK, echo).catch((e: unknown) => e);
    expect(sent).toHaveLength(3);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ kind: "retryable", status: 503, provider: "openai" });
    expect((error as Error).message).toBe("OpenAI returned HTTP 503: The server is overloaded (gave up after 3 attempts)");
  });

  it("does not retry a 400, and never repeats the key even when the upstream does", async () => {
    const sent = mockFetch(Response.json({ error: { message: "Incorrect API key provided: sk-live-123456" } }, { status: 401 }));
    const error = await postJson(upstream, QUICK, echo).catch((e: unknown) => e);
    expect(sent).toHaveLength(1);
    expect(error).toMatchObject({ kind: "final", status: 401 });
    expect((error as Error).message).not.toContain("sk-live-123456");
    expect((error as Error).message).toContain("[redacted]");
    expect((error as Error).message).toContain("OPENAI_API_KEY");
  });

  it("attack: a key straddling the cut of a long error body leaves no part of itself in the message", async () => {
    // Whitespace is trimmed from the upstream's message, so the padding would put the key's start first.
    for (const shown of [1, 4, 8, 13]) {
      mockFetch(new Response(`${" ".repeat(16 * 1024 - shown)}sk-live-123456 was rejected`, { status: 401 }));
      const error = (await postJson(upstream, QUICK, echo).catch((e: unknown) => e)) as Error;
      expect(error).toMatchObject({ kind: "final", status: 401 });
      expect(error.message, `${shown} characters before the cut`).toBe("OpenAI returned HTTP 401: [redacted]. Check OPENAI_API_KEY.");
      vi.restoreAllMocks();
    }
  });

  it("treats a quota 429 as final", async () => {
    const sent = mockFetch(Response.json({ error: { message: "You exceeded your current quota", code: "insufficient_quota" } }, { status: 429 }));
    await expect(postJson(upstream, QUICK, echo)).rejects.toMatchObject({ kind: "final", status: 429 });
    expect(sent).toHaveLength(1);
  });

  it("reads only the start of an error body and cancels the rest", async () => {
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode("x".repeat(4096)));
      },
      cancel() {
        cancelled = true;
      },
    });
    mockFetch(() => new Response(endless, { status: 400 }));
    const error = await postJson(upstream, QUICK, echo).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "final", status: 400 });
    expect(cancelled).toBe(true);
    expect((error as Error).message.length).toBeLessThan(700);
  });

  it("honours Retry-After, but not past the deadline", async () => {
    const limited = () => new Response('{"error":{"message":"slow down"}}', { status: 429, headers: { "retry-after": "30" } });
    const sent = mockFetch(limited);
    const started = Date.now();
    const error = await postJson(upstream, { policy: { deadlineMs: 2_000, maxAttempts: 5 } }, echo).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(sent).toHaveLength(1);
    expect(error).toMatchObject({ kind: "retryable", status: 429, retryAfterMs: 30_000 });
  });

  it("waits the Retry-After the upstream asks for", async () => {
    const sent = mockFetch(new Response("{}", { status: 429, headers: { "retry-after-ms": "300" } }), Response.json({ ok: 1 }));
    const started = Date.now();
    await expect(postJson(upstream, QUICK, echo)).resolves.toEqual({ ok: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(sent).toHaveLength(2);
  });

  it("retries malformed JSON and reports it when it persists", async () => {
    const sent = mockFetch(new Response("<html>bad gateway</html>", { status: 200 }));
    await expect(postJson(upstream, QUICK, echo)).rejects.toMatchObject({ kind: "retryable", message: expect.stringContaining("malformed") });
    expect(sent).toHaveLength(3);
  });

  it("retries network errors", async () => {
    let calls = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
      calls++;
      if (calls === 1) throw new TypeError("Network connection lost.");
      return Response.json({ fine: true });
    });
    await expect(postJson(upstream, QUICK, echo)).resolves.toEqual({ fine: true });
    expect(calls).toBe(2);
  });

  it("reports persistent network errors as one sentence with the attempts", async () => {
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Network connection lost."));
    const error = await postJson(upstream, QUICK, echo).catch((e: unknown) => e);
    expect((error as Error).message).toBe("The connection to OpenAI failed: Network connection lost (gave up after 3 attempts)");
  });

  it("stops at the deadline with a retryable timeout", async () => {
    vi.spyOn(globalThis, "fetch").mockImplementation(
      (_input, init) =>
        new Promise((_resolve, reject) => {
          init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
        }),
    );
    const started = Date.now();
    const error = await postJson(upstream, { policy: { deadlineMs: 200, maxAttempts: 3 } }, echo).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toMatchObject({ kind: "retryable", message: expect.stringContaining("within 0.2 s") });
  });

  it("reports the caller's abort as aborted, also before the call starts", async () => {
    vi.spyOn(globalThis, "fetch").mockImplementation(
      (_input, init) =>
        new Promise((_resolve, reject) => {
          init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
        }),
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(postJson(upstream, { ...QUICK, signal: controller.signal }, echo)).rejects.toMatchObject({ kind: "aborted" });
    await expect(postJson(upstream, { ...QUICK, signal: AbortSignal.abort() }, echo)).rejects.toMatchObject({ kind: "aborted" });
  });
});
