/**
 * Conversation threads as the tools see them and as their Durable Object stores them. The object
 * knows these shapes but no tool: step state crosses it as an opaque JSON string.
 */

import type { FileEntry } from "../../files/resolve.ts";

type JsonLeaf = string | number | boolean | null;
/**
 * JSON of bounded depth for tool arguments and metadata: a recursive type is too deep for the
 * RPC stub's type mapping, and `unknown` would erase the stub's return types.
 */
export type Json = JsonLeaf | JsonLeaf[] | { [key: string]: JsonLeaf | JsonLeaf[] } | Array<{ [key: string]: JsonLeaf }>;

/** One message of a thread: the assistant's request or step, or a model's answer. */
export interface Turn {
  index: number;
  role: "user" | "assistant";
  content: string;
  /** Paths (or references) of the files this turn showed a model. */
  files: string[];
  images: string[];
  tool: string;
  provider?: string;
  model?: string;
  usage?: { inputTokens: number; outputTokens: number; totalTokens: number };
  metadata?: { [key: string]: Json };
  createdAt: number;
}

export type NewTurn = Omit<Turn, "index" | "createdAt">;

export interface ThreadInfo {
  threadId: string;
  team: string;
  creatorTool: string;
  /** Arguments of the first call (model settings and files left out), merged into later calls that omit them. */
  initialContext: { [key: string]: Json };
  title: string;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  turnCount: number;
}

/**
 * A file the thread has shown a model, as last shown: inline content is kept here, an uploaded
 * file by its content hash, so history shows what the model last saw.
 */
export interface StoredFile extends FileEntry {
  tokens: number;
}

export interface FileMeta {
  path: string;
  tokens: number;
  updatedAt: number;
}

export interface Thread extends ThreadInfo {
  turns: Turn[];
  files: FileMeta[];
  /** Each workflow tool's step state in this thread, as JSON, by tool name. */
  workflows: { [tool: string]: string };
}

export interface ThreadLimits {
  maxTurns: number;
  ttlMs: number;
}

/** A workflow tool's step state to store with the turns of its step. */
export interface WorkflowWrite {
  tool: string;
  state: string;
}

export type AppendResult =
  /** `reindex`: the team's thread list should be told (first exchange, or its entry is getting old). */
  | { ok: true; turnCount: number; info: ThreadInfo; reindex: boolean }
  | { ok: false; reason: "not_found" | "turn_limit"; turnCount: number };
