import type { Notification } from "@modelcontextprotocol/server";

/** Claude Code shows a progress message on one line: longer ones are cut. */
const MAX_MESSAGE_CHARS = 199;

/**
 * The key, in a progress notification's `_meta`, of the server's clock when it sent the
 * notification (epoch milliseconds). A client on a loaded machine hears a notification later than
 * it was sent; this tells the two apart (bench/concurrency.ts measures first progress by both
 * clocks). Prefixed as the MCP spec asks of `_meta` keys outside its own.
 */
export const SENT_AT_META_KEY = "zen-mcp-worker/sentAt";

/**
 * A tool's progress reporter for one call: each message becomes a `notifications/progress` with
 * an increasing counter under the call's progress token (the same in both protocol eras), the
 * seconds since the call began, and the server's send time in `_meta`; nothing when the client
 * asked for no progress.
 */
export function progressReporter(
  progressToken: string | number | undefined,
  notify: (notification: Notification) => Promise<void>,
): (message: string) => Promise<void> {
  const started = Date.now();
  let progress = 0;
  return async (message) => {
    if (progressToken === undefined) return;
    progress += 1;
    const now = Date.now();
    const elapsed = ` (${Math.round((now - started) / 1_000)} s)`;
    const room = MAX_MESSAGE_CHARS - elapsed.length;
    const text = message.length <= room ? message : `${message.slice(0, room - 1)}…`;
    await notify({ method: "notifications/progress", params: { progressToken, progress, message: text + elapsed, _meta: { [SENT_AT_META_KEY]: now } } });
  };
}
