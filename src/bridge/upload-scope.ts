/**
 * Which local files may leave this machine. A tool call's arguments come from the assistant,
 * which a prompt injection can steer, so the bridge uploads only files whose real path (all
 * symlinks resolved) lies under its root, and no dotfiles or secret-looking files unless told to.
 */
import { realpath } from "node:fs/promises";
import { basename, isAbsolute, relative, sep } from "node:path";
import { isSecretName, isSecretPath } from "./secret-files.ts";

export interface UploadScope {
  /** Real paths (symlinks resolved) of the directories, or files, uploads may come from. */
  roots: readonly string[];
  /** Dotfiles and secret-looking files are uploaded too (--allow-secrets). */
  allowSecrets: boolean;
}

const WIDEN_ROOT_HINT = "pass --root <dir> (or set ZEN_MCP_ROOT) naming a directory that holds it";
export const ALLOW_SECRETS_HINT = "pass --allow-secrets to upload dotfiles and secret-looking files";

export type PathCheck = { allowed: true; realPath: string } | { allowed: false; reason: string };

/** Whether `path` is `root` or below it; both real, absolute paths. */
function isWithin(root: string, path: string): boolean {
  const below = relative(root, path);
  return below === "" || (!isAbsolute(below) && below.split(sep)[0] !== "..");
}

/**
 * Resolves `path` through every symlink and says whether it may be uploaded: under a root, and
 * neither it (as named or as resolved) nor a folder on its way below the root looks secret.
 * Undefined when it cannot be resolved here (missing, unreadable, a symlink loop): nothing to upload.
 */
export async function checkPath(scope: UploadScope, path: string): Promise<PathCheck | undefined> {
  const realPath = await realpath(path).catch(() => undefined);
  if (realPath === undefined) return undefined;
  const root = scope.roots.find((candidate) => isWithin(candidate, realPath));
  const resolved = realPath === path ? "" : ` (it resolves to ${realPath})`;
  if (root === undefined) {
    const roots = scope.roots.join(", ");
    return { allowed: false, reason: `outside the upload root ${roots}${resolved}: ${WIDEN_ROOT_HINT}` };
  }
  if (!scope.allowSecrets && (isSecretName(basename(path)) || isSecretPath(relative(root, realPath)))) {
    return { allowed: false, reason: `a dotfile or secret-looking file${resolved}: ${ALLOW_SECRETS_HINT}` };
  }
  return { allowed: true, realPath };
}

/** Paths named in a tool call (or on the command line) that the scope does not allow; nothing was uploaded. */
export class RefusedPathsError extends Error {
  override name = "RefusedPathsError";

  constructor(refused: ReadonlyArray<{ path: string; reason: string }>) {
    super(`Refused to upload, so nothing was uploaded or sent:\n${refused.map(({ path, reason }) => `- ${path}: ${reason}`).join("\n")}`);
  }
}
