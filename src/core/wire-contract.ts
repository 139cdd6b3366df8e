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

/**
 * Threads on the REST side, for exchanges produced outside the server (the bridge's `clink`
 * runs a local AI CLI): `POST THREADS_PATH` starts a thread with one exchange, `POST
 * threadExchangesPath(id)` appends one to a thread, `GET threadPath(id)` reads a thread. All
 * take the team's token; a thread is visible to its own team only.
 */
export const THREADS_PATH = "/v1/threads";

export function threadPath(threadId: string): string {
  return `${THREADS_PATH}/${encodeURIComponent(threadId)}`;
}

export function threadExchangesPath(threadId: string): string {
  return `${threadPath(threadId)}/exchanges`;
}

/** The most one exchange's JSON body may take, and the most each of its texts may hold. */
export const MAX_EXCHANGE_BODY_BYTES = 1024 * 1024;
export const MAX_EXCHANGE_PROMPT_CHARS = 100_000;
export const MAX_EXCHANGE_ANSWER_CHARS = 40_000;

/** Names a tool or an agent in an exchange: what the thread's history shows. */
export const EXCHANGE_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** One request and its answer, produced outside the server. */
export interface ExternalExchange {
  /** The tool that ran it (`clink`). */
  tool: string;
  /** Who answered (the CLI's name), shown in the history as the model. */
  agent: string;
  prompt: string;
  answer: string;
  /** Short facts for the history (role, exit code...). */
  metadata?: Record<string, string | number | boolean | null>;
}

/** The answer to a stored exchange: the thread to continue, and the turns it has room for. */
export interface StoredExchange {
  continuation_id: string;
  remaining_turns: number;
}

export interface ThreadTurnView {
  role: "user" | "assistant";
  tool: string;
  /** The model or agent that answered (assistant turns). */
  model?: string;
  content: string;
  files: string[];
}

/** A thread as `GET threadPath(id)` shows it. */
export interface ThreadView {
  continuation_id: string;
  creator_tool: string;
  turn_count: number;
  remaining_turns: number;
  turns: ThreadTurnView[];
}
