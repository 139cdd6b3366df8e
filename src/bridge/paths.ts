/**
 * Which local files a tool call refers to: absolute paths in the file-bearing argument fields
 * that exist on this disk, with directories walked the way the server expands them, and only
 * what the upload scope allows.
 */
import { readdir, stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import { isAbsolute, sep } from "node:path";
import { MAX_FILES_PER_CALL, SINGLE_FILE_FIELDS, UPLOADED_FILE_FIELDS, isExpandable, isSkippedDirectory } from "../core/wire-contract.ts";
import { holdsPrivateKey, isSecretName } from "./secret-files.ts";
import { ALLOW_SECRETS_HINT, RefusedPathsError, checkPath, type UploadScope } from "./upload-scope.ts";

/** Walking stops after this many candidate files, so pointing at `/` or a home directory ends. */
const MAX_WALKED_FILES = 20_000;

export interface LocalFile {
  /** The path as the server will see it in the manifest (the argument string, or dir + relative). */
  path: string;
  size: number;
  mtimeMs: number;
}

export interface LocalPaths {
  files: LocalFile[];
  /** Notes for stderr: truncated directories and the like. */
  warnings: string[];
}

/** Strings that cannot be local paths even when absolute-looking: data URLs and content refs. */
function isCandidate(value: string): boolean {
  return isAbsolute(value) && !value.startsWith("data:") && !value.startsWith("sha256:");
}

/**
 * The string entries of file-bearing fields, anywhere in the arguments (a tool may nest them),
 * that look like absolute paths; with whether each may be a directory. Duplicates are dropped.
 */
export function pathCandidates(args: unknown): Array<{ path: string; allowDirectory: boolean }> {
  const found = new Map<string, boolean>();
  const visit = (value: unknown, depth: number): void => {
    if (depth > 8 || typeof value !== "object" || value === null) return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item, depth + 1);
      return;
    }
    for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
      if (UPLOADED_FILE_FIELDS.has(key) && Array.isArray(field)) {
        for (const entry of field) {
          if (typeof entry === "string" && isCandidate(entry)) {
            found.set(entry, (found.get(entry) ?? false) || !SINGLE_FILE_FIELDS.has(key));
          }
        }
      } else {
        visit(field, depth + 1);
      }
    }
  };
  visit(args, 0);
  return [...found].map(([path, allowDirectory]) => ({ path, allowDirectory }));
}

const PRIVATE_KEY_REASON = `holds a private key: ${ALLOW_SECRETS_HINT}`;

/** Whether a file may be uploaded for its content: one holding a private key only with --allow-secrets. */
async function contentAllowed(scope: UploadScope, realPath: string): Promise<boolean> {
  return scope.allowSecrets || !(await holdsPrivateKey(realPath));
}

/**
 * The files behind the candidates that exist here. Paths that do not exist locally are left to
 * the server (it may know them from an earlier push, or it will ask for them). A candidate the
 * scope refuses, by its path or, for a file, by its content, fails the whole call
 * (RefusedPathsError) before anything is uploaded.
 */
export async function localFiles(candidates: Array<{ path: string; allowDirectory: boolean }>, scope: UploadScope): Promise<LocalPaths> {
  const allowed: Array<{ path: string; allowDirectory: boolean; info: Stats }> = [];
  const refused: Array<{ path: string; reason: string }> = [];
  for (const candidate of candidates) {
    const check = await checkPath(scope, candidate.path);
    if (check && !check.allowed) refused.push({ path: candidate.path, reason: check.reason });
    if (!check?.allowed) continue;
    const info = await stat(check.realPath).catch(() => undefined);
    if (!info) continue;
    if (info.isFile() && !(await contentAllowed(scope, check.realPath))) refused.push({ path: candidate.path, reason: PRIVATE_KEY_REASON });
    else allowed.push({ ...candidate, info });
  }
  if (refused.length > 0) throw new RefusedPathsError(refused);

  const files = new Map<string, LocalFile>();
  const warnings: string[] = [];
  for (const { info, ...candidate } of allowed) {
    if (info.isFile()) {
      files.set(candidate.path, { path: candidate.path, size: info.size, mtimeMs: info.mtimeMs });
    } else if (info.isDirectory() && candidate.allowDirectory) {
      const walked = await walkDirectory(candidate.path, scope);
      if (walked.truncated) {
        warnings.push(
          `${candidate.path}: more than ${MAX_FILES_PER_CALL} code files; only the first ${MAX_FILES_PER_CALL} in path order are uploaded (the server reads no more per directory).`,
        );
      }
      warnings.push(...walked.skipped);
      for (const file of walked.files) files.set(file.path, file);
    }
  }
  return { files: [...files.values()], warnings };
}

/**
 * The code files below a directory as the server expands it (the wire contract's rule), sorted
 * by path as the server sorts them and capped the way it caps them. Symlinked folders are not
 * entered (no loops, no way out); a symlinked file is taken only if the scope allows its target,
 * and secret-looking files (by name, or by a private key in them) only with --allow-secrets.
 * `skipped` says what was left out and why.
 */
export async function walkDirectory(root: string, scope: UploadScope): Promise<{ files: LocalFile[]; truncated: boolean; skipped: string[] }> {
  /** Candidates with the real file behind each (a symlink's target). */
  const found: Array<LocalFile & { target: string }> = [];
  const skipped: string[] = [];
  // Paths are built by concatenation, not path.join: the server matches files below a directory
  // by the prefix `<directory as the assistant wrote it>/`, so "/a/./b" must not become "/a/b".
  const start = root.endsWith("/") || root.endsWith(sep) ? root : root + sep;
  const pending: string[] = [start];
  while (pending.length > 0 && found.length < MAX_WALKED_FILES) {
    const directory = pending.pop() ?? start;
    const entries = await readdir(directory, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = directory + entry.name;
      if (entry.isDirectory()) {
        if (!isSkippedDirectory(entry.name)) pending.push(path + sep);
        continue;
      }
      if (!isExpandable(path.slice(start.length))) continue;
      let target = path;
      if (entry.isSymbolicLink()) {
        const check = await checkPath(scope, path);
        if (!check) continue;
        if (!check.allowed) {
          skipped.push(`${path}: symlink not uploaded: ${check.reason}`);
          continue;
        }
        target = check.realPath;
      } else if (!scope.allowSecrets && isSecretName(entry.name)) {
        skipped.push(`${path}: not uploaded: a secret-looking file: ${ALLOW_SECRETS_HINT}`);
        continue;
      }
      // Links to folders, pipes and sockets are not files.
      const info = await stat(target).catch(() => undefined);
      if (info?.isFile()) found.push({ path, size: info.size, mtimeMs: info.mtimeMs, target });
    }
  }
  // Plain code-unit order: the server's SQL `ORDER BY path` for the paths people use.
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // Contents are read in that order until the cap is reached: a file passed over for its
  // content is never registered, so the server's expansion passes over it too.
  const files: LocalFile[] = [];
  let read = 0;
  for (const { target, ...file } of found) {
    if (files.length === MAX_FILES_PER_CALL) break;
    read++;
    if (await contentAllowed(scope, target)) files.push(file);
    else skipped.push(`${file.path}: not uploaded: it ${PRIVATE_KEY_REASON}`);
  }
  return { files, truncated: read < found.length, skipped };
}
