import type { Env } from "../core/env";
import type { FileEntry } from "../core/rpc/conversation";
import { blobInfo, readBlobText } from "./blob-store";
import { inlineSource, type FileSource } from "./embed";
import { isUsableReference, type FileReference } from "./references";
import { ToolError } from "../core/errors";
import { mapLimit } from "../core/pool";
import { MAX_FILES_PER_CALL, isExpandable } from "../core/wire-contract";

/** File arguments one call may name (paths, directories, references, inline files). */
export const MAX_REFERENCES_PER_CALL = 200;


/** Where a request's files are looked up: the team's blobs and the workspace's manifest. */
export interface FileScope {
  env: Env;
  team: string;
  workspace: string;
  waitUntil(promise: Promise<unknown>): void;
}

export interface ResolvedReferences {
  entries: FileEntry[];
  /** Paths the server has no content for: the assistant must upload or inline them. */
  missing: string[];
  /** Strings that are neither absolute paths nor content references. */
  invalid: string[];
  /** Files left out because the call passed MAX_FILES_PER_CALL. */
  overLimit: number;
}

/**
 * Resolves tool file arguments: inline content as given; `sha256:<hex>` to the team's blob; an
 * absolute path through the workspace manifest, or, when it names a directory, to the registered
 * files below it (the wire contract's exclusions and code extensions). Order is kept; a reference
 * named twice is resolved once, and a file reached twice is used once.
 */
export async function resolveReferences(scope: FileScope, references: FileReference[]): Promise<ResolvedReferences> {
  if (references.length > MAX_REFERENCES_PER_CALL) {
    throw new ToolError(
      `A call may name at most ${MAX_REFERENCES_PER_CALL} files or directories; got ${references.length}. Name a directory instead of its files, or split the work.`,
    );
  }
  // A reference named twice is resolved once: each costs a lookup, and a directory a query.
  const distinct = [...new Set(references)];
  const team = scope.env.TEAMS.getByName(scope.team);
  const paths = distinct.filter((r): r is string => typeof r === "string" && !r.startsWith("sha256:") && isUsableReference(r));
  const registered = new Map((await (paths.length > 0 ? team.lookupFiles(scope.workspace, paths) : [])).map((e) => [e.path, e.sha256]));

  const entries: FileEntry[] = [];
  const missing: string[] = [];
  const invalid: string[] = [];
  const seen = new Set<string>();
  let overLimit = 0;
  const add = (entry: FileEntry) => {
    if (seen.has(entry.path)) return;
    seen.add(entry.path);
    if (entries.length < MAX_FILES_PER_CALL) entries.push(entry);
    else overLimit++;
  };
  for (const reference of distinct) {
    if (typeof reference !== "string") {
      add({ path: reference.path, content: reference.content });
    } else if (!isUsableReference(reference)) {
      invalid.push(reference);
    } else if (reference.startsWith("sha256:")) {
      const sha256 = reference.slice(7).toLowerCase();
      if (await blobInfo(scope.env, scope.team, sha256, scope.waitUntil)) add({ path: reference, sha256 });
      else missing.push(reference);
    } else if (registered.has(reference)) {
      add({ path: reference, sha256: registered.get(reference) ?? "" });
    } else {
      const prefix = reference.endsWith("/") || reference.endsWith("\\") ? reference : `${reference}/`;
      const below = (await team.filesUnder(scope.workspace, prefix, MAX_FILES_PER_CALL * 4)).filter((entry) =>
        isExpandable(entry.path.slice(prefix.length)),
      );
      if (below.length === 0) missing.push(reference);
      for (const entry of below.slice(0, MAX_FILES_PER_CALL)) add(entry);
    }
  }
  return { entries, missing, invalid, overLimit };
}

/** How many files' facts are looked up at once (each a cache, KV or Durable Object read). */
const SOURCE_LOOKUPS_IN_FLIGHT = 16;

/** Sources for many entries, in order, looked up a bounded number at a time. */
export async function sourcesOf(scope: FileScope, entries: FileEntry[]): Promise<FileSource[]> {
  return mapLimit(entries, SOURCE_LOOKUPS_IN_FLIGHT, (entry) => sourceOf(scope, entry));
}

/** A source for embedding: inline content directly, a blob through its cached facts and its bytes in R2. */
export async function sourceOf(scope: FileScope, entry: FileEntry): Promise<FileSource> {
  if (entry.content !== undefined || !entry.sha256) return inlineSource(entry.path, entry.content ?? "");
  const sha256 = entry.sha256;
  const info = await blobInfo(scope.env, scope.team, sha256, scope.waitUntil);
  if (!info) return { path: entry.path, tokens: 0, lines: 0, unavailable: "missing", load: async () => "" };
  return {
    path: entry.path,
    tokens: info.tokens,
    lines: info.lines,
    ...(info.text ? {} : { unavailable: "binary" as const }),
    load: () => readBlobText(scope, info, entry.path),
  };
}
