/**
 * Writing a file in a directory others can plant things in, without writing through what they
 * planted.
 */
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Writes `content` as the file `path`. The bytes go to a new file beside it, created exclusively
 * (O_CREAT | O_EXCL, which fails on any existing name, a symlink included, rather than follow
 * it), and that file is then renamed over `path`. So a symlink or a hard link found at `path` is
 * replaced, never written through, and no reader sees a half-written file.
 */
export async function replaceFile(path: string, content: string): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temporary, "wx", 0o666);
  try {
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
