/**
 * What clink asks of the CLI it runs, by role. Written for this project (not the original's
 * text), and the same for every CLI: nothing here names one.
 */

export const ROLES = ["default", "planner", "codereviewer"] as const;
export type Role = (typeof ROLES)[number];

/** The answer is capped (see output.ts); a long one should carry its own short version. */
const SUMMARY_RULE =
  "If your answer runs past about 15,000 characters, end it with a <SUMMARY>...</SUMMARY> block of at most " +
  "2,000 characters that stands on its own: the caller may receive only that block.";

const SHARED =
  "You were started by another AI coding agent that wants a second opinion; a person reads your answer through it. " +
  "Work read-only: read files, search and reason, but change nothing on disk and run nothing that writes or installs. " +
  "Files are named by absolute path; open the ones you need yourself. Be concrete: cite files and lines, say what " +
  "you checked and how sure you are, and skip pleasantries. " +
  SUMMARY_RULE;

export const ROLE_PROMPTS: Record<Role, string> = {
  default: `${SHARED}\n\nAnswer the request directly. Where the request rests on a wrong assumption, say so first.`,
  planner:
    `${SHARED}\n\nProduce a plan, not an implementation: the goal in one sentence, the steps in order, each with the ` +
    "files it touches and how to check it is done, then the risks and open questions. Prefer small steps that can be " +
    "verified one by one.",
  codereviewer:
    `${SHARED}\n\nReview the code named in the request. List findings from most to least serious, each with its ` +
    "severity (critical, high, medium, low), its location, why it matters and a fix. Check correctness first, then " +
    "security, then performance, then maintainability; say plainly what you found no problem with.",
};
