/** Pieces every system prompt shares. */

export const LINE_NUMBER_RULES = `LINE NUMBERS
Files are shown with "NNNN│ " prefixes so you can cite exact lines (e.g. "auth.py:42"). The prefixes are
not part of the code: never copy them into code you write.`;

export const FILES_REQUEST_CONTRACT = `WHEN YOU NEED MORE FILES
If you cannot answer well without files you were not given, reply with only this JSON and nothing else:
{"status": "files_required_to_continue", "mandatory_instructions": "<what the agent must do>", "files_needed": ["<path or folder>"]}
Do not ask again for files you already have.`;

/** Prefixes a system prompt with the reply language when LOCALE is set. */
export function withLocale(systemPrompt: string, locale: string): string {
  return locale ? `Always respond in ${locale}.\n\n${systemPrompt}` : systemPrompt;
}
