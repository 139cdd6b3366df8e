import type { Notification } from "@modelcontextprotocol/server";

/** Claude Code shows a progress message on one line: longer ones are cut. */
const MAX_MESSAGE_CHARS = 199;

/**
 * A tool's progress reporter for one call: each message becomes a `notifications/progress` with
 * an increasing counter under the call's progress token (the same in both protocol eras), and
 * the seconds since the call began; nothing when the client asked for no progress.
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
    const elapsed = ` (${Math.round((Date.now() - started) / 1_000)} s)`;
    const room = MAX_MESSAGE_CHARS - elapsed.length;
    const text = message.length <= room ? message : `${message.slice(0, room - 1)}…`;
    await notify({ method: "notifications/progress", params: { progressToken, progress, message: text + elapsed } });
  };
}
