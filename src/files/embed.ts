/**
 * How files are shown to a model: the original's BEGIN/END FILE markers with `NNNN│` line
 * numbers (in history too, unlike the original), error markers, and token budgets.
 */

/** The original's estimate: four characters per token. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** `NNNN│ line`, width at least four digits; CRLF becomes LF. */
function numberLines(content: string): string {
  const lines = content.replace(/\r\n?/g, "\n").split("\n");
  if (lines.length > 1 && lines.at(-1) === "") lines.pop();
  const width = Math.max(4, String(lines.length).length);
  return lines.map((line, i) => `${String(i + 1).padStart(width, " ")}│ ${line}`).join("\n");
}

/**
 * A file to embed: its size is known up front (token estimate and line count) and its text is
 * loaded only if it fits the budget, so a file that will be skipped is never read.
 */
export interface FileSource {
  path: string;
  /** Characters / 4 of the content. */
  tokens: number;
  lines: number;
  /** Set when there is no text to show: the file is binary, or its content is gone. */
  unavailable?: "binary" | "missing";
  load(): Promise<string>;
}

export function inlineSource(path: string, content: string): FileSource {
  return { path, tokens: estimateTokens(content), lines: content.split("\n").length, load: async () => content };
}

/** What a file costs embedded: its content plus the "NNNN│ " prefixes and the markers. */
function embeddedCost(source: FileSource): number {
  const prefix = Math.max(4, String(source.lines).length) + 2;
  return source.tokens + Math.ceil((source.lines * prefix + 2 * source.path.length + 60) / 4);
}

function embedFile(path: string, content: string): string {
  return `\n--- BEGIN FILE: ${path} ---\n${numberLines(content)}\n--- END FILE: ${path} ---\n`;
}

export interface EmbeddedFiles {
  text: string;
  /** Path and content of every file embedded, in order. */
  embedded: Array<{ path: string; content: string }>;
  skipped: string[];
  tokens: number;
}

/**
 * Embeds files in order while they fit the token budget; the rest are named in a SKIPPED
 * section (ten at most, then a count), and binary files get a marker, so the model knows what
 * it did not see.
 */
export async function embedSources(sources: FileSource[], budgetTokens: number): Promise<EmbeddedFiles> {
  const parts: string[] = [];
  const embedded: Array<{ path: string; content: string }> = [];
  const skipped: string[] = [];
  let tokens = 0;
  for (const source of sources) {
    if (source.unavailable === "binary") {
      parts.push(`\n--- NOT A TEXT FILE: ${source.path} (binary content is not embedded) ---\n`);
      continue;
    }
    if (source.unavailable === "missing") {
      parts.push(`\n--- FILE NOT FOUND: ${source.path} ---\n`);
      continue;
    }
    const cost = embeddedCost(source);
    if (tokens + cost > budgetTokens) {
      skipped.push(source.path);
      continue;
    }
    const content = await source.load();
    parts.push(embedFile(source.path, content));
    embedded.push({ path: source.path, content });
    tokens += cost;
  }
  if (skipped.length > 0) {
    const shown = skipped.slice(0, 10).map((path) => `  - ${path}`);
    const more = skipped.length > 10 ? [`  ... and ${skipped.length - 10} more`] : [];
    parts.push(`\n--- SKIPPED FILES (TOKEN LIMIT) ---\n${[...shown, ...more].join("\n")}\n--- END SKIPPED FILES ---\n`);
  }
  return { text: parts.join("\n"), embedded, skipped, tokens };
}
