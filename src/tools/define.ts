import type { z } from "zod";
import type { Config } from "../core/config";
import type { Env } from "../core/env";
import type { ToolCategory } from "../providers/descriptor";
import type { ModelRegistry } from "../providers/registry";

/** What every tool handler receives besides its arguments. */
export interface ToolContext {
  env: Env;
  config: Config;
  registry: ModelRegistry;
  /** The authenticated team; everything a tool stores is scoped by it. */
  team: string;
  /** The client's workspace, whose manifest maps its absolute paths to uploaded files. */
  workspace: string;
  requestId: string;
  /** Fires when the client cancels the request. */
  signal: AbortSignal;
  /** Sends a progress notification when the client asked for them; a no-op otherwise. */
  progress(message: string): Promise<void>;
  /**
   * Charges the call to the team's model-call limits, once per tool call, before its first model
   * call; throws a UserFacingError when a limit refuses it (then no model is called).
   */
  beforeModelCall(): Promise<void>;
  /** Work that may finish after the response (cache writes, breaker reports). */
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * A tool's answer: one JSON object, sent as the call's structured content and, for clients that
 * read only text, as its JSON text (the original's text contract).
 */
export interface ToolResult {
  output: Record<string, unknown>;
  isError?: boolean;
}

export interface ToolAnnotations {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/** A tool reads like a card: name, description, schema, annotations, handler. */
export interface ToolCard<Shape extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  /**
   * Set for tools that call a model: the MCP layer then adds the `model` field (with the ranked
   * models in auto mode) and auto mode picks a model of this category when none is given.
   */
  modelCategory?: ToolCategory;
  input: Shape;
  annotations: ToolAnnotations;
  handler(args: z.infer<z.ZodObject<Shape>> & { model?: string }, ctx: ToolContext): Promise<ToolResult>;
}

/** Declares a tool card with its argument types inferred from its input shape. */
export function defineTool<Shape extends z.ZodRawShape>(card: ToolCard<Shape>): ToolCard<Shape> {
  return card;
}
