import { z } from "zod";
import type { FileText } from "./embed";

/**
 * A file named in a tool call: an absolute path (resolved through the team's uploads), a
 * `sha256:<hex>` content reference, or the content itself inline for clients without the bridge.
 */
export const fileReference = z.union([
  z.string().min(1),
  z.strictObject({ path: z.string().min(1), content: z.string() }),
]);
export type FileReference = z.infer<typeof fileReference>;

export function referencePath(reference: FileReference): string {
  return typeof reference === "string" ? reference : reference.path;
}

/** Whether a path string is absolute on POSIX or Windows, or a content reference. */
export function isUsableReference(reference: string): boolean {
  return reference.startsWith("/") || /^[A-Za-z]:[\\/]/.test(reference) || /^sha256:[0-9a-f]{64}$/i.test(reference);
}

export interface ResolvedFiles {
  files: FileText[];
  /** References the server has no content for: the assistant must send or upload them. */
  missing: string[];
  /** References that are not absolute paths. */
  invalid: string[];
}

/**
 * Turns references into file texts. Inline content is used as given; a path is looked up in
 * `known` (content the thread already holds).
 */
export function resolveFiles(references: FileReference[], known: ReadonlySet<string>): ResolvedFiles & { fromThread: string[] } {
  const files: FileText[] = [];
  const missing: string[] = [];
  const invalid: string[] = [];
  const fromThread: string[] = [];
  for (const reference of references) {
    if (typeof reference !== "string") {
      files.push({ path: reference.path, content: reference.content });
    } else if (!isUsableReference(reference)) {
      invalid.push(reference);
    } else if (known.has(reference)) {
      fromThread.push(reference);
    } else {
      missing.push(reference);
    }
  }
  return { files, missing, invalid, fromThread };
}
