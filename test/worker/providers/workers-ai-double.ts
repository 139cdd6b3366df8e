import type { WorkersAiBinding, WorkersAiChatInput } from "../../../src/core/env";

/** What the double does for one call: answer with a value, throw, or build the answer from the input. */
export type BindingAnswer = { value: unknown } | { error: Error } | { build: (input: WorkersAiChatInput) => unknown | Promise<unknown> };

export interface BindingCall {
  model: string;
  input: WorkersAiChatInput;
}

/**
 * A test double of the Workers AI binding at its boundary: `run(model, inputs)` answers as the
 * real binding documents (an object for a plain call, a ReadableStream of SSE when `stream` is
 * set) or throws as it does ("<code>: <description>"). Answers are used in order; the last repeats.
 */
export class WorkersAiDouble implements WorkersAiBinding {
  readonly calls: BindingCall[] = [];
  private readonly answers: BindingAnswer[];

  constructor(...answers: BindingAnswer[]) {
    this.answers = answers;
  }

  async run(model: string, input: WorkersAiChatInput): Promise<unknown> {
    this.calls.push({ model, input: structuredClone(input) });
    const answer = this.answers[Math.min(this.calls.length - 1, this.answers.length - 1)];
    if (answer === undefined) throw new Error("the double has no answer configured");
    if ("error" in answer) throw answer.error;
    if ("build" in answer) return answer.build(input);
    return answer.value;
  }
}

/** The binding's plain answer to a text-generation call. */
export function reply(text: string, completionTokens = 5): BindingAnswer {
  return { value: { response: text, tool_calls: [], usage: { prompt_tokens: 40, completion_tokens: completionTokens, total_tokens: 40 + completionTokens } } };
}

/** The binding's streamed answer: SSE bytes in the given raw pieces, a fresh stream per call. */
export function streamed(...pieces: string[]): BindingAnswer {
  return { build: () => sseStream(pieces) };
}

export function sseStream(pieces: readonly string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const piece of pieces) controller.enqueue(encoder.encode(piece));
      controller.close();
    },
  });
}

/** One SSE event as the binding streams it. */
export const event = (value: unknown): string => `data: ${JSON.stringify(value)}\n\n`;
export const DONE = "data: [DONE]\n\n";

/** An error as the binding throws it: an InferenceUpstreamError whose message is "<code>: <description>". */
export function fails(message: string): BindingAnswer {
  const error = new Error(message);
  error.name = "InferenceUpstreamError";
  return { error };
}
