/**
 * Which local files a tool call refers to: absolute paths in the file-bearing argument fields
 * that exist on this disk, with directories walked the way the server expands them.
 */
import { readdir, stat } from "node:fs/promises";
import { isAbsolute, sep } from "node:path";

/** Argument fields whose string entries may be local paths (the tools' shared file fields). */
export const FILE_FIELDS: ReadonlySet<string> = new Set(["absolute_file_paths", "relevant_files", "files_checked", "images"]);

/** Fields whose entries are single files: a directory there is not expanded. */
const FILE_ONLY_FIELDS: ReadonlySet<string> = new Set(["images"]);

/**
 * Folders never walked: the same list the server uses when it expands a directory (dot-folders
 * are skipped by name), so the bridge uploads exactly what the server will look for.
 */
const EXCLUDED_DIRECTORIES: ReadonlySet<string> = new Set([
  "node_modules", "venv", "env", "__pycache__", "build", "dist", "target", "out", "vendor", "_build", "site",
  "coverage", "htmlcov",
]);

const CODE_EXTENSIONS: ReadonlySet<string> = new Set(
  (
    ".py .js .ts .jsx .tsx .java .cpp .c .h .hpp .cs .go .rs .rb .php .swift .kt .scala .r .m .mm .sql .sh .bash .zsh " +
    ".fish .ps1 .bat .cmd .yml .yaml .json .xml .toml .ini .cfg .conf .properties .env .txt .md .rst .tex .html .css " +
    ".scss .sass .less"
  ).split(" "),
);

/**
 * The server embeds at most this many files per directory reference (the first ones in path
 * order), so uploading more would only cost time.
 */
export const MAX_DIRECTORY_FILES = 1_000;

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

export function hasCodeExtension(name: string): boolean {
  const dot = name.lastIndexOf(".");
  return dot > 0 && CODE_EXTENSIONS.has(name.slice(dot).toLowerCase());
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
      if (FILE_FIELDS.has(key) && Array.isArray(field)) {
        for (const entry of field) {
          if (typeof entry === "string" && isCandidate(entry)) {
            found.set(entry, (found.get(entry) ?? false) || !FILE_ONLY_FIELDS.has(key));
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

/**
 * The files behind the candidates that exist here. Paths that do not exist locally are left to
 * the server (it may know them from an earlier push, or it will ask for them).
 */
export async function localFiles(candidates: Array<{ path: string; allowDirectory: boolean }>): Promise<LocalPaths> {
  const files = new Map<string, LocalFile>();
  const warnings: string[] = [];
  for (const candidate of candidates) {
    const info = await stat(candidate.path).catch(() => undefined);
    if (!info) continue;
    if (info.isFile()) {
      files.set(candidate.path, { path: candidate.path, size: info.size, mtimeMs: info.mtimeMs });
    } else if (info.isDirectory() && candidate.allowDirectory) {
      const walked = await walkDirectory(candidate.path);
      if (walked.truncated) {
        warnings.push(
          `${candidate.path}: more than ${MAX_DIRECTORY_FILES} code files; only the first ${MAX_DIRECTORY_FILES} in path order are uploaded (the server reads no more per directory).`,
        );
      }
      for (const file of walked.files) files.set(file.path, file);
    }
  }
  return { files: [...files.values()], warnings };
}

/**
 * The code files below a directory, skipping dot entries, the excluded folders and symlinked
 * folders (loops); sorted by path as the server sorts them, and capped the way it caps them.
 */
export async function walkDirectory(root: string): Promise<{ files: LocalFile[]; truncated: boolean }> {
  const found: LocalFile[] = [];
  // Paths are built by concatenation, not path.join: the server matches files below a directory
  // by the prefix `<directory as the assistant wrote it>/`, so "/a/./b" must not become "/a/b".
  const pending: string[] = [root.endsWith("/") || root.endsWith(sep) ? root : root + sep];
  while (pending.length > 0 && found.length < MAX_WALKED_FILES) {
    const directory = pending.pop() ?? root;
    const entries = await readdir(directory, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = directory + entry.name;
      if (entry.isDirectory()) {
        if (!EXCLUDED_DIRECTORIES.has(entry.name)) pending.push(path + sep);
      } else if (hasCodeExtension(entry.name)) {
        // stat follows a symlinked file; links to folders, dangling links, pipes are skipped.
        const info = await stat(path).catch(() => undefined);
        if (info?.isFile()) found.push({ path, size: info.size, mtimeMs: info.mtimeMs });
      }
    }
  }
  // Plain code-unit order: the server's SQL `ORDER BY path` for the paths people use.
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files: found.slice(0, MAX_DIRECTORY_FILES), truncated: found.length > MAX_DIRECTORY_FILES };
}
