import { z } from "zod";
import { storedFiles, ThreadWriter } from "../../conversation/threads";
import type { Json, NewTurn, Thread } from "../../core/rpc/conversation";
import { ToolError } from "../../core/errors";
import { resolveReferences } from "../../files/resolve";
import type { ToolContext, ToolResult } from "../define";
import { checkReferences, openThread, resolveInputs, type RequestInputs } from "./context";
import { continuationOffer, filesRequiredOutput, jsonResult, resendPromptOutput } from "./envelope";
import { describeImage, remainingAfter } from "./exchange";
import { askExpert, endingOf, finish, pause } from "./protocol";
import { expertOf, type StepOutcome, type StepSession, type WorkflowArgs, type WorkflowSpec } from "./spec";
import {
  consolidate,
  investigationFields,
  isDataUrl,
  pathOf,
  sessionOf,
  stepCore,
  withStep,
  type StepArgs,
  type WorkflowState,
} from "./steps";

/**
 * Runs one step of a workflow tool: finds the session in its thread, records the step, answers
 * it (paused, ended, or the tool's own step), and stores it. Files are read only when a model is
 * about to be shown them, and a thread stores only the files a model was shown: a paused step
 * keeps the paths it was given, never their content.
 */

/** Arguments of a step that are not kept as a thread's initial context. */
const NOT_CONTEXT = new Set([
  ...Object.keys(stepCore),
  ...Object.keys(investigationFields),
  "use_assistant_model",
  "continuation_id",
  "model",
  "temperature",
  "thinking_mode",
]);

/** Arguments a tool without an expert takes because the original's schema had them, though they change nothing. */
const WITHOUT_EXPERT = ["model", "use_assistant_model"] as const;

function failed(tool: string, stepNumber: number, error: string): ToolResult {
  return jsonResult({ status: `${tool}_failed`, error, step_number: stepNumber, metadata: { tool_name: tool } }, { isError: true });
}

/**
 * The call with the tool's own fields it left out taken from earlier: the session's earlier steps,
 * else the thread's initial context, when they still fit the tool's schema (a review type given
 * at step 1 holds for the later steps, also in a thread another tool started).
 */
function withEarlierFields<Args extends StepArgs>(
  args: Args,
  thread: Thread | undefined,
  session: WorkflowState,
  spec: { extra: z.ZodRawShape; perStep?: readonly string[] },
): Args {
  if (!thread) return args;
  const earlier: Record<string, unknown> = Object.assign({}, thread.initialContext, ...session.steps.map((step) => step.extra));
  const merged: Record<string, unknown> = { ...(args as object) };
  for (const [key, value] of Object.entries(earlier)) {
    const field = spec.extra[key];
    if (!field || spec.perStep?.includes(key) || merged[key] !== undefined || value === undefined) continue;
    const parsed = z.safeParse(field, value);
    if (parsed.success) merged[key] = parsed.data;
  }
  return merged as Args;
}

function initialContextOf(args: Record<string, unknown>): { [key: string]: Json } {
  return Object.fromEntries(Object.entries(args).filter(([key, value]) => !NOT_CONTEXT.has(key) && value !== undefined)) as {
    [key: string]: Json;
  };
}

function stepTurnContent(tool: string, args: StepArgs, total: number): string {
  const files = (args.relevant_files ?? []).map(pathOf);
  return [
    `Step ${args.step_number}/${total} (${tool}): ${args.step}`,
    ...(args.findings ? [`Findings: ${args.findings}`] : []),
    ...(args.hypothesis ? [`Hypothesis: ${args.hypothesis}`] : []),
    ...(args.confidence ? [`Confidence: ${args.confidence}`] : []),
    ...(files.length > 0 ? [`Relevant files: ${files.join(", ")}`] : []),
  ].join("\n");
}

/**
 * The session's files and images as a model is about to be shown them: this step's as sent,
 * earlier steps' resolved again (the latest upload wins) or else as the thread last showed them
 * to a model. The rest is missing: a paused step keeps only the paths of inline files, so their
 * content is asked for again here.
 */
async function modelInputs({ ctx, args, thread, consolidated }: StepSession<StepArgs>): Promise<RequestInputs> {
  const sent = args.relevant_files ?? [];
  const sentPaths = new Set(sent.map(pathOf));
  const current = await resolveInputs(ctx, sent, [...consolidated.images, ...(args.images ?? []).filter(isDataUrl)]);
  const earlier = await resolveReferences(ctx, consolidated.relevantFiles.filter((path) => !sentPaths.has(path)));
  const unresolved = [...earlier.missing, ...earlier.invalid];
  const kept = thread ? await storedFiles(ctx, thread.threadId, unresolved) : [];
  const keptPaths = new Set(kept.map((file) => file.path));
  return {
    files: [...earlier.entries, ...kept, ...current.files],
    images: current.images,
    missing: [...current.missing, ...unresolved.filter((path) => !keptPaths.has(path))],
    skipped: current.skipped,
  };
}

/** Files a model needs and the server lacks: the same step is sent again with them, nothing is stored meanwhile. */
function filesRequired(tool: string, args: StepArgs, missing: string[]): ToolResult {
  const again = `call ${tool} again with this same step (step_number ${args.step_number})${args.continuation_id ? ` and continuation_id ${args.continuation_id}` : ""}`;
  return jsonResult(
    filesRequiredOutput(
      tool,
      missing,
      `A model is shown the session's files at this step, and the server has no content for these. Send each in relevant_files ` +
        `as {path, content} (earlier steps kept only the paths of inline files), or run the bridge, which uploads them; then ${again}.`,
    ),
  );
}

/** Arguments the tool accepts from the original's schema but has no use for, named in the metadata. */
function ignoredArguments<Extra extends z.ZodRawShape>(spec: WorkflowSpec<Extra>, args: StepArgs): Record<string, string> {
  if (expertOf(spec)) return {};
  const present = WITHOUT_EXPERT.filter((key) => args[key] !== undefined);
  return Object.fromEntries(present.map((key) => [key, `${spec.name} asks no expert model at its last step: ${key} changes nothing here.`]));
}

export async function runWorkflowStep<Extra extends z.ZodRawShape>(spec: WorkflowSpec<Extra>, raw: WorkflowArgs<Extra>, ctx: ToolContext): Promise<ToolResult> {
  const tool = spec.name;
  if (raw.step.length > ctx.config.promptSizeLimit) {
    return jsonResult(resendPromptOutput(tool, "step", raw.step.length, ctx.config.promptSizeLimit), { isError: true });
  }
  if (raw.step_number > 1 && !raw.continuation_id) {
    throw new ToolError(
      `Step ${raw.step_number} of ${tool} continues a session: pass the continuation_id that step 1 returned ` +
        "(or start again at step_number 1 without one).",
    );
  }
  await ctx.progress(`${tool}: step ${raw.step_number} of ${raw.total_steps}`);
  const final = !raw.next_step_required;
  const thread = await openThread(ctx, raw.continuation_id, final ? 2 : 1);
  const previous = sessionOf(tool, thread, raw);
  const args = withEarlierFields(raw, thread, previous, spec);
  const problem = spec.check?.(args);
  if (problem) return failed(tool, args.step_number, problem);
  checkReferences(args.relevant_files ?? []);

  const extraOfStep = Object.fromEntries(Object.keys(spec.extra).map((key) => [key, (args as Record<string, unknown>)[key]]));
  const state = withStep(previous, args, extraOfStep);
  const session: StepSession<WorkflowArgs<Extra>> = { ctx, args, thread, state, consolidated: consolidate(state) };

  let outcome: StepOutcome;
  if (spec.runStep) {
    const inputs = await modelInputs(session);
    if (inputs.missing.length > 0) return filesRequired(tool, args, inputs.missing);
    outcome = await spec.runStep(session, inputs);
  } else if (!final) {
    outcome = pause(spec, session);
  } else {
    const ending = endingOf(spec, session);
    if (ending.kind === "expert") {
      const inputs = await modelInputs(session);
      if (inputs.missing.length > 0) return filesRequired(tool, args, inputs.missing);
      outcome = await askExpert(spec, ending.expert, session, inputs);
    } else {
      outcome = finish(spec, session, ending);
    }
  }
  if (outcome.isError) return jsonResult({ ...outcome.response, metadata: { tool_name: tool } }, { isError: true });

  const writer = thread
    ? ThreadWriter.continuing(ctx, thread)
    : ThreadWriter.starting(ctx, { creatorTool: tool, initialContext: initialContextOf(args), title: args.step.slice(0, 120) });
  const shown = outcome.shown ?? [];
  const stepTurn: NewTurn = {
    role: "user",
    content: stepTurnContent(tool, args, state.totalSteps),
    files: shown.map((file) => file.path),
    images: (args.images ?? []).map(describeImage),
    tool,
  };
  const stored: WorkflowState = { ...state, memory: outcome.memory ?? state.memory };
  const commit = await writer.commit([stepTurn, ...(outcome.turns ?? [])], shown, { tool, state: JSON.stringify(stored) });
  const offer = continuationOffer(writer.threadId, remainingAfter(commit, ctx));
  const call = outcome.call;
  const ignored = ignoredArguments(spec, args);
  return jsonResult({
    ...outcome.response,
    ...(offer ? { continuation_id: writer.threadId } : {}),
    continuation_offer: offer,
    metadata: {
      tool_name: tool,
      ...(call
        ? { model_used: call.model.requestedName, model_name: call.response.modelName, provider_used: call.model.provider.id, usage: call.response.usage }
        : {}),
      ...(call?.model.note ? { model_note: call.model.note } : {}),
      ...(call?.fallbackFrom ? { fallback_from: call.fallbackFrom } : {}),
      ...(outcome.skipped && outcome.skipped.length > 0 ? { files_skipped: outcome.skipped } : {}),
      ...(Object.keys(ignored).length > 0 ? { ignored_arguments: ignored } : {}),
      ...outcome.metadata,
    },
  });
}
