import { vi } from "vitest";

/** A request the worker sent upstream, as the mock saw it. */
export interface SentRequest {
  url: string;
  headers: Headers;
  body: Record<string, unknown>;
}

function sse(events: unknown[], terminator = ""): Response {
  const body = events.map((event) => `data: ${JSON.stringify(event)}\n\n`).join("") + terminator;
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}

/**
 * Answers the worker's outbound model calls inside workerd (Gemini, Chat Completions and the
 * Responses API, plain and streaming) with `reply(request)`, recording every request. Restore with `vi.restoreAllMocks()`.
 */
export function mockUpstream(reply: (request: SentRequest) => string | Promise<string> = () => "mock answer"): SentRequest[] {
  const sent: SentRequest[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const body = (await request.json()) as Record<string, unknown>;
    const record = { url: request.url, headers: request.headers, body };
    sent.push(record);
    const text = await reply(record);
    const usage = { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 };
    if (request.url.includes(":streamGenerateContent")) {
      return sse([
        { candidates: [{ content: { role: "model", parts: [{ text }] }, index: 0 }] },
        { candidates: [{ content: { role: "model", parts: [{ text: "" }] }, finishReason: "STOP", index: 0 }], usageMetadata: usage },
      ]);
    }
    if (request.url.includes(":generateContent")) {
      return Response.json({ candidates: [{ content: { role: "model", parts: [{ text }] }, finishReason: "STOP", index: 0 }], usageMetadata: usage });
    }
    const model = String(body.model);
    if (request.url.includes("/responses")) {
      const response = {
        id: "r1",
        object: "response",
        model,
        status: "completed",
        output: [{ type: "message", role: "assistant", content: [{ type: "output_text", text }] }],
        usage: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
      };
      if (body.stream !== true) return Response.json(response);
      const events = [
        { type: "response.output_text.delta", delta: text },
        { type: "response.completed", response },
      ];
      return sse(events);
    }
    if (body.stream === true) {
      return sse([
        { id: "c1", object: "chat.completion.chunk", model, choices: [{ index: 0, delta: { role: "assistant", content: text } }] },
        { id: "c1", object: "chat.completion.chunk", model, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
        { id: "c1", object: "chat.completion.chunk", model, choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } },
      ], "data: [DONE]\n\n");
    }
    return Response.json({
      id: "c1",
      object: "chat.completion",
      model,
      choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
    });
  });
  return sent;
}

/** The user-visible text the worker sent to the model in a request. */
export function promptOf(request: SentRequest): string {
  return JSON.stringify(request.body);
}
