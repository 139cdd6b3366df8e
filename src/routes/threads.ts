/**
 * Threads on the REST side, for exchanges produced outside the server: the bridge's `clink`
 * runs a local AI CLI and stores its request and answer here, so `chat` and the workflow tools
 * continue the thread; it reads a thread to show its history to the CLI. Mounted at
 * THREADS_PATH, behind the team token (worker.ts); a thread is its team's only, as for the tools.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { configOf } from "../core/config";
import type { AppBindings } from "../core/env";
import type { NewTurn, Thread } from "../core/rpc/conversation";
import { ToolError } from "../core/errors";
import { loadThread, ThreadWriter, type ThreadScope } from "../conversation/threads";
import {
  EXCHANGE_NAME_PATTERN,
  MAX_EXCHANGE_ANSWER_CHARS,
  MAX_EXCHANGE_BODY_BYTES,
  MAX_EXCHANGE_PROMPT_CHARS,
  type StoredExchange,
  type ThreadView,
} from "../core/wire-contract";

type AppContext = Context<AppBindings>;

const MAX_METADATA_KEYS = 20;

const exchangeSchema = z.strictObject({
  tool: z.string().regex(EXCHANGE_NAME_PATTERN),
  agent: z.string().regex(EXCHANGE_NAME_PATTERN),
  prompt: z.string().min(1).max(MAX_EXCHANGE_PROMPT_CHARS),
  answer: z.string().min(1).max(MAX_EXCHANGE_ANSWER_CHARS),
  metadata: z
    .record(z.string().max(64), z.union([z.string().max(1_000), z.number(), z.boolean(), z.null()]))
    .refine((record) => Object.keys(record).length <= MAX_METADATA_KEYS, `at most ${MAX_METADATA_KEYS} metadata keys`)
    .optional(),
});

type ExchangeBody = z.infer<typeof exchangeSchema>;

function scopeOf(c: AppContext): ThreadScope {
  return {
    env: c.env,
    config: configOf(c.env),
    team: c.get("team"),
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  };
}

/** The request and the answer as the thread's two turns: the agent shows as the answering model. */
function turnsOf(body: ExchangeBody): NewTurn[] {
  const metadata = body.metadata ? { metadata: body.metadata } : {};
  return [
    { role: "user", content: body.prompt, files: [], images: [], tool: body.tool, ...metadata },
    { role: "assistant", content: body.answer, files: [], images: [], tool: body.tool, model: body.agent, ...metadata },
  ];
}

/** The body, checked; or the 400 that says what is wrong with it. */
async function exchangeOf(c: AppContext): Promise<ExchangeBody | Response> {
  let json: unknown;
  try {
    json = await c.req.json();
  } catch {
    return c.json({ error: "bad_request", message: "The body must be a JSON object." }, 400);
  }
  const parsed = exchangeSchema.safeParse(json);
  if (!parsed.success) return c.json({ error: "bad_request", message: `Invalid exchange: ${z.prettifyError(parsed.error)}` }, 400);
  return parsed.data;
}

/** The thread of `id`, or the 404 that says it is unknown, expired or another team's. */
async function threadOf(c: AppContext, scope: ThreadScope, id: string): Promise<Thread | Response> {
  try {
    return await loadThread(scope, id, 0);
  } catch (error) {
    if (error instanceof ToolError) return c.json({ error: "unknown_thread", message: error.message }, 404);
    throw error;
  }
}

function turnLimit(c: AppContext, id: string, maxTurns: number): Response {
  return c.json(
    {
      error: "turn_limit",
      message: `Conversation thread '${id}' has no room for another exchange (at most ${maxTurns} turns). Start a new conversation without continuation_id.`,
    },
    409,
  );
}

export const threadRoutes = new Hono<AppBindings>();

threadRoutes.use(
  "*",
  bodyLimit({
    maxSize: MAX_EXCHANGE_BODY_BYTES,
    onError: (c) =>
      c.json({ error: "payload_too_large", message: `The request body is over ${MAX_EXCHANGE_BODY_BYTES} bytes, the most an exchange may take.` }, 413),
  }),
);

threadRoutes.get("/:id", async (c) => {
  const scope = scopeOf(c);
  const thread = await threadOf(c, scope, c.req.param("id"));
  if (thread instanceof Response) return thread;
  const view: ThreadView = {
    continuation_id: thread.threadId,
    creator_tool: thread.creatorTool,
    turn_count: thread.turnCount,
    remaining_turns: Math.max(0, scope.config.maxConversationTurns - thread.turnCount),
    turns: thread.turns.map((turn) => ({
      role: turn.role,
      tool: turn.tool,
      ...(turn.model !== undefined ? { model: turn.model } : {}),
      content: turn.content,
      files: turn.files,
    })),
  };
  return c.json(view);
});

/** A new thread, started by this exchange; the id is answered only once both turns are stored. */
threadRoutes.post("/", async (c) => {
  const body = await exchangeOf(c);
  if (body instanceof Response) return body;
  const scope = scopeOf(c);
  const writer = ThreadWriter.starting(scope, { creatorTool: body.tool, initialContext: { prompt: body.prompt }, title: body.prompt.slice(0, 120) });
  const result = await writer.commit(turnsOf(body), []);
  if (!result.stored) return turnLimit(c, writer.threadId, scope.config.maxConversationTurns);
  const stored: StoredExchange = { continuation_id: writer.threadId, remaining_turns: Math.max(0, scope.config.maxConversationTurns - result.info.turnCount) };
  return c.json(stored, 201);
});

threadRoutes.post("/:id/exchanges", async (c) => {
  const body = await exchangeOf(c);
  if (body instanceof Response) return body;
  const scope = scopeOf(c);
  const id = c.req.param("id");
  const thread = await threadOf(c, scope, id);
  if (thread instanceof Response) return thread;
  const maxTurns = scope.config.maxConversationTurns;
  if (thread.turnCount + 2 > maxTurns) return turnLimit(c, id, maxTurns);
  const result = await ThreadWriter.continuing(scope, thread).commit(turnsOf(body), []);
  if (!result.stored) {
    if (result.reason === "turn_limit") return turnLimit(c, id, maxTurns);
    return c.json({ error: "unknown_thread", message: `Conversation thread '${id}' expired meanwhile. Start a new conversation.` }, 404);
  }
  const stored: StoredExchange = { continuation_id: thread.threadId, remaining_turns: Math.max(0, maxTurns - result.info.turnCount) };
  return c.json(stored);
});
