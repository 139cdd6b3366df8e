/**
 * The answer's size rule, as the original's: an answer over the cap is replaced by the
 * `<SUMMARY>` block the CLI was asked to end a long answer with, or, without one, by an excerpt
 * of its start and a note saying what happened.
 */

export const MAX_ANSWER_CHARS = 20_000;
const EXCERPT_CHARS = 4_000;

const SUMMARY = /<SUMMARY>([\s\S]*?)<\/SUMMARY>/i;

export interface LimitedAnswer {
  content: string;
  /** How the answer was shortened, if it was. */
  shortened?: "summary" | "excerpt";
  originalChars: number;
}

export function limitAnswer(answer: string, cliName: string): LimitedAnswer {
  const originalChars = answer.length;
  if (originalChars <= MAX_ANSWER_CHARS) return { content: answer, originalChars };
  const summary = SUMMARY.exec(answer)?.[1]?.trim();
  if (summary && summary.length <= MAX_ANSWER_CHARS) return { content: summary, shortened: "summary", originalChars };
  const note =
    `\n\n[${cliName} answered with ${originalChars} characters, over the ${MAX_ANSWER_CHARS} passed on, and gave no ` +
    "<SUMMARY> block: this is the start of its answer. Ask it again for a shorter answer, or for one part at a time.]";
  return { content: answer.slice(0, EXCERPT_CHARS) + note, shortened: "excerpt", originalChars };
}
