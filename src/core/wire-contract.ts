/**
 * What the local bridge and the worker must agree on: which argument fields carry files, which
 * files below a directory count, how many of them, and how a request names its workspace.
 *
 * Pure data and functions, no imports: the worker bundle and the bridge (Node, running the
 * TypeScript directly) both import this one file.
 */

/** Argument fields whose entries name files the server reads: the bridge uploads them, the server resolves them. */
export const UPLOADED_FILE_FIELDS: ReadonlySet<string> = new Set(["absolute_file_paths", "relevant_files", "images"]);

/** Of those, the fields whose entries are single files: a directory named there is not expanded. */
export const SINGLE_FILE_FIELDS: ReadonlySet<string> = new Set(["images"]);

/**
 * Folders never expanded: dependencies, builds, caches. Folders whose names start with a dot
 * (.git, .venv, .idea, caches...) are skipped by that rule alone.
 */
export const EXCLUDED_DIRECTORIES: ReadonlySet<string> = new Set([
  "node_modules", "venv", "env", "__pycache__", "build", "dist", "target", "out", "vendor", "_build", "site",
  "coverage", "htmlcov",
]);

/** The extensions of the files a directory reference brings in. */
export const CODE_EXTENSIONS: ReadonlySet<string> = new Set(
  (
    ".py .js .ts .jsx .tsx .java .cpp .c .h .hpp .cs .go .rs .rb .php .swift .kt .scala .r .m .mm .sql .sh .bash .zsh " +
    ".fish .ps1 .bat .cmd .yml .yaml .json .xml .toml .ini .cfg .conf .properties .env .txt .md .rst .tex .html .css " +
    ".scss .sass .less"
  ).split(" "),
);

/**
 * At most this many files are used by one call, directory expansions included (a directory
 * brings its first ones in path order); the bridge uploads no more for one directory.
 */
export const MAX_FILES_PER_CALL = 400;

export function hasCodeExtension(name: string): boolean {
  const dot = name.lastIndexOf(".");
  return dot > 0 && CODE_EXTENSIONS.has(name.slice(dot).toLowerCase());
}

/** Whether a folder found below a directory is left out, with everything in it. */
export function isSkippedDirectory(name: string): boolean {
  return name.startsWith(".") || EXCLUDED_DIRECTORIES.has(name);
}

/**
 * Whether a file found below a directory is part of that directory's expansion; `relativePath`
 * is its path below the directory, `/` or `\` separated.
 */
export function isExpandable(relativePath: string): boolean {
  const parts = relativePath.split(/[\\/]/);
  const name = parts.at(-1) ?? "";
  return !name.startsWith(".") && !parts.slice(0, -1).some(isSkippedDirectory) && hasCodeExtension(name);
}

/** The request header naming the workspace whose manifest resolves the call's paths. */
export const WORKSPACE_HEADER = "x-zen-workspace";

export const WORKSPACE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** WORKSPACE_PATTERN in words, for error messages. */
export const WORKSPACE_RULE = "1-64 letters, digits, '_', '.' or '-'";
