/** Chat calls as the B1 benchmarks (mcp-overhead, engine-split) make them. */
import { ok, textOf, timedCall, type AnyClient } from "./mcp.ts";

export const CHAT_PROMPT = "In one sentence: why do circuit breakers help when a model provider is down?";

/** Continuations per thread before a new one is started (untimed), so the history stays typical. */
export const CONTINUATIONS_PER_THREAD = 20;

/**
 * Continuation ids on one project worker: a thread continued CONTINUATIONS_PER_THREAD times, then
 * a fresh one, started by an untimed chat call.
 */
export function continuationIds(client: AnyClient): () => Promise<string> {
  let thread = { id: "", uses: CONTINUATIONS_PER_THREAD };
  return async () => {
    if (thread.uses >= CONTINUATIONS_PER_THREAD) {
      const started = ok(await timedCall(client, "chat", { prompt: CHAT_PROMPT, model: "flash" }), "new thread");
      const offer = JSON.parse(textOf(started.result)) as { continuation_offer?: { continuation_id: string } | null };
      const id = offer.continuation_offer?.continuation_id;
      if (!id) throw new Error(`a new thread offered no continuation_id: ${textOf(started.result).slice(0, 300)}`);
      thread = { id, uses: 0 };
    }
    thread.uses++;
    return thread.id;
  };
}
