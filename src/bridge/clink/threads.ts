/**
 * clink's side of the server's threads: the history a continuation shows the CLI, and the
 * exchange stored afterwards so that `chat` and the workflow tools can continue it.
 */
import {
  THREADS_PATH,
  threadExchangesPath,
  threadPath,
  type ExternalExchange,
  type StoredExchange,
  type ThreadView,
} from "../../core/wire-contract.ts";
import { authHeaders, describeCause, restUrl, serverError, serverFetch, type RemoteOptions } from "../remote.ts";

export async function readThread(remote: RemoteOptions, threadId: string, signal: AbortSignal): Promise<ThreadView> {
  const response = await serverFetch(remote, threadPath(threadId), { method: "GET", signal });
  if (!response.ok) throw await serverError(response, `Reading conversation thread '${threadId}'`);
  return (await response.json()) as ThreadView;
}

/** Stores the exchange in `threadId`'s thread, or in a new one; resolves once it is stored. */
export async function storeExchange(remote: RemoteOptions, threadId: string | undefined, exchange: ExternalExchange): Promise<StoredExchange> {
  const path = threadId === undefined ? THREADS_PATH : threadExchangesPath(threadId);
  // Once, not through serverFetch's retries: a POST whose answer was lost may have stored the exchange.
  const url = restUrl(remote, path);
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { ...authHeaders(remote), "content-type": "application/json" },
      body: JSON.stringify(exchange),
    });
  } catch (error) {
    throw new Error(`Could not reach ${url.origin} to store the exchange: ${describeCause(error)}`, { cause: error });
  }
  if (!response.ok) throw await serverError(response, "Storing the exchange in the server's thread");
  return (await response.json()) as StoredExchange;
}

/** Turns a rendered history may take: the newest ones, up to this many characters. */
const HISTORY_CHARS = 200_000;

/** The thread so far, for the CLI: the newest turns that fit, oldest first. */
export function renderThread(thread: ThreadView): string {
  const rendered = thread.turns.map((turn, index) => {
    const who = turn.role === "user" ? `the agent, using ${turn.tool}` : `${turn.model ?? "a model"}, using ${turn.tool}`;
    const files = turn.files.length > 0 ? `Files: ${turn.files.join(", ")}\n` : "";
    return `--- Turn ${index + 1} (${who}) ---\n${files}${turn.content}`;
  });
  const shown: string[] = [];
  let used = 0;
  for (const turn of rendered.reverse()) {
    if (used + turn.length > HISTORY_CHARS) break;
    shown.unshift(turn);
    used += turn.length;
  }
  const omitted = thread.turns.length - shown.length;
  return [
    `=== CONVERSATION HISTORY (thread ${thread.continuation_id}, started by ${thread.creator_tool}) ===`,
    ...(omitted > 0 ? [`[${omitted} older turn(s) left out]`] : []),
    ...shown,
    "=== END CONVERSATION HISTORY ===",
    "Continue this conversation: build on it rather than repeat it.",
  ].join("\n\n");
}
