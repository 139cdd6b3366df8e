import { z } from "zod";

/**
 * A file named in a tool call: an absolute path (resolved through the workspace manifest the
 * bridge registers), a `sha256:<hex>` content reference, or the content inline, for clients
 * without the bridge.
 */
export const fileReference = z.union([
  z.string().min(1),
  z.strictObject({ path: z.string().min(1), content: z.string() }),
]);
export type FileReference = z.infer<typeof fileReference>;

/** Whether a string is an absolute POSIX or Windows path. */
export function isAbsolutePath(path: string): boolean {
  return path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path);
}

/** Whether a string is an absolute path or a content reference. */
export function isUsableReference(reference: string): boolean {
  return isAbsolutePath(reference) || /^sha256:[0-9a-f]{64}$/i.test(reference);
}
