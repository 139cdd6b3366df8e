/**
 * How files are shown to a model: the original's BEGIN/END FILE markers with `NNNN│` line
 * numbers (on in history too, unlike the original), error markers, and token estimates.
 */

/** A file's text as a tool received it, with when it was last changed if known. */
export interface FileText {
  path: string;
  content: string;
  modifiedAt?: number;
}

/** The original's estimate: four characters per token. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** `NNNN│ line`, width at least four digits; CRLF becomes LF. */
export function numberLines(content: string): string {
  const lines = content.replace(/\r\n?/g, "\n").split("\n");
  if (lines.length > 1 && lines.at(-1) === "") lines.pop();
  const width = Math.max(4, String(lines.length).length);
  return lines.map((line, i) => `${String(i + 1).padStart(width, " ")}│ ${line}`).join("\n");
}

function timestamp(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** One file between its markers, line-numbered. */
export function embedFile(file: FileText): string {
  const modified = file.modifiedAt !== undefined ? ` (Last modified: ${timestamp(file.modifiedAt)})` : "";
  return `\n--- BEGIN FILE: ${file.path}${modified} ---\n${numberLines(file.content)}\n--- END FILE: ${file.path} ---\n`;
}

export function missingFileMarker(path: string): string {
  return `\n--- FILE NOT FOUND: ${path} ---\n`;
}

export interface EmbeddedFiles {
  text: string;
  embedded: string[];
  skipped: string[];
  tokens: number;
}

/**
 * Embeds files in order while they fit the token budget; the rest are named in a SKIPPED
 * section (ten at most, then a count) so the model knows what it did not see.
 */
export function embedFiles(files: FileText[], budgetTokens: number): EmbeddedFiles {
  const parts: string[] = [];
  const embedded: string[] = [];
  const skipped: string[] = [];
  let tokens = 0;
  for (const file of files) {
    const block = embedFile(file);
    const cost = estimateTokens(block);
    if (tokens + cost > budgetTokens) {
      skipped.push(file.path);
      continue;
    }
    parts.push(block);
    embedded.push(file.path);
    tokens += cost;
  }
  if (skipped.length > 0) {
    const shown = skipped.slice(0, 10).map((path) => `  - ${path}`);
    const more = skipped.length > 10 ? [`  ... and ${skipped.length - 10} more`] : [];
    parts.push(`\n--- SKIPPED FILES (TOKEN LIMIT) ---\n${[...shown, ...more].join("\n")}\n--- END SKIPPED FILES ---\n`);
  }
  return { text: parts.join("\n"), embedded, skipped, tokens };
}
