import { mapLimit } from "../../core/pool";
import { callModel, type CallOptions, type CallResult, type ChosenModel } from "../../providers/call";
import type { ModelRequest } from "../../providers/types";
import { recordUsage } from "../../providers/usage";
import type { ToolContext } from "../define";

/**
 * How often a waiting call tells the client it is alive: each notification resets the idle
 * timeout of clients that honour progress (Claude Code's among them), and the MCP layer adds the
 * elapsed time to each message.
 */
const HEARTBEAT_MS = 10_000;
/** A Worker request keeps at most 6 connections open; more fan-out would only queue. */
export const MAX_MODELS_IN_FLIGHT = 6;

/**
 * Runs model calls while telling the client it is alive: a progress notification every
 * HEARTBEAT_MS with what is known so far. The first one comes from the caller, which says what it
 * is about to do before any work (a tool's first notification goes out at once).
 */
async function withHeartbeat<T>(ctx: ToolContext, label: string, status: () => string, work: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => {
    ctx.progress(`${label}: working${status()}`).catch(() => {
      // The client went away; the call's own signal ends the work.
    });
  }, HEARTBEAT_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/**
 * Every model call of every tool goes through here, so this is the one place its tokens are
 * added to the team's usage (in the background: the reply never waits for it).
 */
async function callAndRecord(ctx: ToolContext, chosen: ChosenModel, request: ModelRequest, options: CallOptions): Promise<CallResult> {
  await ctx.beforeModelCall();
  const result = await callModel(ctx, chosen, request, options);
  recordUsage(ctx, result);
  return result;
}

/** Asks one model, with progress while it works; throws ProviderError. */
export async function askModel(ctx: ToolContext, chosen: ChosenModel, request: ModelRequest): Promise<CallResult> {
  let outputChars = 0;
  return withHeartbeat(
    ctx,
    chosen.model.capabilities.modelName,
    () => (outputChars > 0 ? `, ${outputChars} characters received` : ""),
    () => callAndRecord(ctx, chosen, request, { signal: ctx.signal, onProgress: (progress) => void (outputChars = progress.outputChars) }),
  );
}

/**
 * Asks several models at once, at most six in flight, and returns every outcome in the order
 * asked: one model's failure is its own result and stops none of the others.
 */
export async function askModels(
  ctx: ToolContext,
  asks: ReadonlyArray<{ chosen: ChosenModel; request: ModelRequest }>,
): Promise<Array<PromiseSettledResult<CallResult>>> {
  let settled = 0;
  // Each call settles into its own result, so one failure stops none of the others.
  const askOne = async ({ chosen, request }: (typeof asks)[number]): Promise<PromiseSettledResult<CallResult>> => {
    try {
      return { status: "fulfilled", value: await callAndRecord(ctx, chosen, request, { signal: ctx.signal }) };
    } catch (reason) {
      return { status: "rejected", reason };
    } finally {
      settled++;
    }
  };
  // The panel is one tool call: charged (or refused) once, before any of its models is asked.
  await ctx.beforeModelCall();
  const label = panelLabel(asks.map((ask) => ask.chosen.model.capabilities.modelName));
  // The step's own notification could not name the models: this one does.
  await ctx.progress(`${label}: asked`);
  return withHeartbeat(
    ctx,
    label,
    () => `, ${settled} of ${asks.length} answered`,
    () => mapLimit(asks, MAX_MODELS_IN_FLIGHT, askOne),
  );
}

/** The models of a panel for a progress message, short enough for one line. */
function panelLabel(models: string[]): string {
  const names = models.join(", ");
  return names.length <= 100 ? `${models.length} models (${names})` : `${models.length} models`;
}
