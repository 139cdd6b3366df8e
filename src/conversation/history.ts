import type { Thread, Turn } from "../core/rpc/conversation";
import { estimateTokens, type EmbeddedFiles } from "../files/embed";
import type { TokenBudget } from "./budget";

/**
 * The thread's files to show again, newest reference first, each path once, admitted while their
 * stored token counts fit the file budget (so no content is fetched that would not fit).
 */
export function historyFilePaths(thread: Thread, fileBudget: number): { admitted: string[]; omitted: string[] } {
  const tokensByPath = new Map(thread.files.map((file) => [file.path, file.tokens]));
  const seen = new Set<string>();
  const admitted: string[] = [];
  const omitted: string[] = [];
  let used = 0;
  for (const turn of [...thread.turns].reverse()) {
    for (const path of turn.files) {
      if (seen.has(path)) continue;
      seen.add(path);
      const tokens = tokensByPath.get(path);
      if (tokens === undefined || used + tokens > fileBudget) {
        omitted.push(path);
        continue;
      }
      admitted.push(path);
      used += tokens;
    }
  }
  return { admitted, omitted };
}

function turnHeading(turn: Turn): string {
  if (turn.role === "user") return `--- Turn ${turn.index} (Agent using ${turn.tool}) ---`;
  const via = turn.provider ? ` via ${turn.provider}` : "";
  return `--- Turn ${turn.index} (${turn.model ?? "model"} using ${turn.tool}${via}) ---`;
}

function renderTurn(turn: Turn): string {
  const files = turn.files.length > 0 ? `Files used in this turn: ${turn.files.join(", ")}\n\n` : "";
  return `${turnHeading(turn)}\n${files}${turn.content}`;
}

export interface RenderedHistory {
  text: string;
  tokens: number;
  turnsShown: number;
  turnsOmitted: number;
}

/**
 * The conversation so far, for the next model: the thread's files (embedded by the caller within
 * the file budget), then the turns that fit the history budget, chosen newest-first and shown
 * oldest-first, with notes on what was left out.
 */
export function renderHistory(
  thread: Thread,
  files: EmbeddedFiles,
  omittedFiles: number,
  budget: TokenBudget,
  maxTurns: number,
): RenderedHistory {
  const omittedCount = omittedFiles + files.skipped.length;
  const fileSection =
    files.text !== "" || omittedCount > 0
      ? [
          "=== FILES REFERENCED IN THIS CONVERSATION ===",
          "These files were shared earlier in this thread (as last sent).",
          ...(omittedCount > 0 ? [`[NOTE: ${omittedCount} file(s) left out to stay within the token budget]`] : []),
          files.text,
          "=== END REFERENCED FILES ===",
          "",
        ].join("\n")
      : "";

  let available = budget.history - estimateTokens(fileSection);
  const chosen: string[] = [];
  for (const turn of [...thread.turns].reverse()) {
    const rendered = renderTurn(turn);
    const cost = estimateTokens(rendered);
    if (cost > available) break;
    chosen.push(rendered);
    available -= cost;
  }
  chosen.reverse();
  const turnsOmitted = thread.turns.length - chosen.length;

  const text = [
    "=== CONVERSATION HISTORY (CONTINUATION) ===",
    `Thread: ${thread.threadId}`,
    `Started by: ${thread.creatorTool}`,
    `Turn ${thread.turnCount + 1}/${maxTurns}`,
    "You are continuing this thread where it left off.",
    "",
    fileSection,
    "Previous turns:",
    ...chosen,
    ...(turnsOmitted > 0 ? [`[NOTE: showing the ${chosen.length} most recent of ${thread.turns.length} turns]`] : []),
    "",
    "=== END CONVERSATION HISTORY ===",
    "",
    "Build on the history above: do not repeat or summarize earlier analysis; answer the new input in its light.",
  ].join("\n");
  return { text, tokens: estimateTokens(text), turnsShown: chosen.length, turnsOmitted };
}
