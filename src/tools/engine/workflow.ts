import { z } from "zod";
import type { ThinkingMode } from "../../config";
import { storedFiles, ThreadWriter } from "../../conversation/threads";
import type { Json, NewTurn, StoredFile, Thread } from "../../conversation/types";
import { ToolError } from "../../errors";
import { estimateTokens } from "../../files/embed";
import { resolveReferences, type FileEntry } from "../../files/resolve";
import type { ToolCategory } from "../../providers/registry";
import type { CallResult } from "../../providers/types";
import { withLocale } from "../prompts/shared";
import { defineTool, type ToolCard, type ToolContext, type ToolResult } from "../define";
import { continuationIdField, temperatureField, thinkingModeField } from "../fields";
import { askModel } from "./ask";
import { chooseModelFor, openThread, renderContext, resolveInputs, type RequestInputs, type SkippedFile } from "./context";
import { continuationOffer, filesRequiredOutput, jsonResult, resendPromptOutput } from "./envelope";
import { describeImage, modelTurn, remainingAfter } from "./exchange";
import { expertPrompt, parseExpertReply, PROMOTED_STATUSES } from "./expert";
import {
  consolidate,
  investigationFields,
  sessionOf,
  stepCore,
  withStep,
  type Consolidated,
  type InvestigationField,
  type StepArgs,
  type WorkflowState,
} from "./steps";

/** What a step hands back to the engine: its response fields, and what the thread should store. */
export interface StepOutcome {
  response: Record<string, unknown>;
  /** Turns besides the agent's step (a model's answer). */
  turns?: NewTurn[];
  /** Files shown to a model by this step. */
  shown?: StoredFile[];
  /** The tool's memory across steps after this one. */
  memory?: Record<string, unknown>;
  /** The model that answered, for the metadata. */
  call?: CallResult;
  skipped?: SkippedFile[];
  /** Metadata besides the tool and model (consensus lists its models). */
  metadata?: Record<string, unknown>;
  /** An error result: nothing of the step is stored. */
  isError?: boolean;
}

/** Everything a step works with; tools with their own step logic (consensus) receive it. */
export interface StepSession<Args> {
  ctx: ToolContext;
  args: Args;
  thread: Thread | undefined;
  /** The session with this step added. */
  state: WorkflowState;
  consolidated: Consolidated;
  /** This step's files and images, resolved. */
  inputs: RequestInputs;
  /**
   * Every relevant file of the session with its latest content: this step's, then earlier steps'
   * resolved again (uploads may have changed), inline ones as the thread kept them.
   */
  relevantEntries(): Promise<{ entries: FileEntry[]; skipped: SkippedFile[] }>;
}

export interface ExpertPolicy<Args> {
  systemPrompt: string;
  /** Heading of the original request in the expert's prompt, e.g. "ISSUE DESCRIPTION". */
  requestHeading: string;
  filesHeading?: string;
  /** The tool's own sections of the expert's prompt (review type, focus, standards, ...). */
  sections?(args: Args): string[];
  /** The last words of the prompt: what the expert must do and in which format. */
  instruction: string;
  /**
   * Whether the expert is asked at the end (skip rules apply first). Default: hasWorkForExpert.
   */
  callWhen?(args: Args, consolidated: Consolidated, continuing: boolean): boolean;
  thinkingMode?(ctx: ToolContext): ThinkingMode;
}

interface CardBasics<Extra extends z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  /** Names the statuses and keys: pause_for_<noun>, <noun>_status, <noun>_required, complete_<noun>. */
  noun: string;
  /** The tool's own fields; they may replace a shared one (refactor's confidence scale). */
  extra: Extra;
  /**
   * The shared investigation fields the tool takes: all by default; a list for a tool that uses only
   * some (its status and completion then report only those); false for a tool without any (planner).
   */
  investigates?: false | readonly InvestigationField[];
  /** The tool's fields that describe only their own step (planner's revisions): never carried to later steps. */
  perStep?: ReadonlyArray<keyof Extra & string>;
  /** A message when a step lacks what the tool needs (e.g. files to review at step 1). */
  check?(args: WorkflowArgs<Extra>): string | undefined;
}

/** A tool on the shared step protocol: pauses between steps, completes with or without an expert. */
export interface ProtocolCard<Extra extends z.ZodRawShape> extends CardBasics<Extra> {
  /** The expert model asked at the final step; tools without one never call a model. */
  expert?: ExpertPolicy<WorkflowArgs<Extra>>;
  /** What the agent must do before the next step, by step and confidence. */
  requiredActions(args: WorkflowArgs<Extra>, consolidated: Consolidated): string[];
  /** Finishing without the expert by the tool's own rule (certain confidence, internal validation). */
  skipExpert?(args: WorkflowArgs<Extra>, continuing: boolean): boolean;
  /** Status of a completion without the expert (by its rule or by choice), or of every completion of a tool without one. */
  completeStatus: string;
  /** What the agent does once the work is complete. */
  nextSteps(args: WorkflowArgs<Extra>, withExpert: boolean): string;
  /** Extra fields of the `<noun>_status` object every step reports (codereview's issues by severity). */
  statusDetails?(consolidated: Consolidated): Record<string, unknown>;
  /** Extra response fields of a paused step (planner's deep thinking, tracer's mode selection). */
  onPause?(session: StepSession<WorkflowArgs<Extra>>): Record<string, unknown>;
  /** Extra response fields of the final step, which may replace the status (docgen's unfinished files). */
  onComplete?(session: StepSession<WorkflowArgs<Extra>>): Record<string, unknown>;
  runStep?: undefined;
}

/** A tool whose steps are its own (consensus asks a model at every step); the engine keeps its state and thread. */
export interface CustomStepCard<Extra extends z.ZodRawShape> extends CardBasics<Extra> {
  runStep(session: StepSession<WorkflowArgs<Extra>>): Promise<StepOutcome>;
}

export type WorkflowSpec<Extra extends z.ZodRawShape> = ProtocolCard<Extra> | CustomStepCard<Extra>;

export type WorkflowArgs<Extra extends z.ZodRawShape> = StepArgs & z.infer<z.ZodObject<Extra>>;

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

type FieldChoice = { investigates?: false | readonly InvestigationField[] };

/** The shared investigation fields a tool takes. */
function fieldsOf(spec: FieldChoice): ReadonlySet<InvestigationField> {
  if (spec.investigates === false) return new Set();
  return new Set(spec.investigates ?? (Object.keys(investigationFields) as InvestigationField[]));
}

function stepFields(spec: FieldChoice & { expert?: unknown }) {
  const fields = fieldsOf(spec);
  const investigation = Object.fromEntries(Object.entries(investigationFields).filter(([key]) => fields.has(key as InvestigationField)));
  return {
    ...stepCore,
    ...(investigation as Partial<typeof investigationFields>),
    ...(spec.expert
      ? { use_assistant_model: z.boolean().optional(), temperature: temperatureField.optional(), thinking_mode: thinkingModeField.optional() }
      : {}),
    continuation_id: continuationIdField.optional(),
  };
}

/**
 * A workflow tool from its card: the shared step fields plus its own, its statuses, the actions
 * it asks for between steps, its skip rules and expert policy, and hooks where it really differs.
 * The engine keeps the session's state in the thread's Durable Object, keyed by continuation id.
 */
export function defineWorkflowTool<Extra extends z.ZodRawShape>(spec: WorkflowSpec<Extra>): ToolCard {
  const input = { ...stepFields({ ...(spec.investigates !== undefined ? { investigates: spec.investigates } : {}), expert: expertOf(spec) }), ...spec.extra };
  const card = defineTool({
    name: spec.name,
    title: spec.title,
    description: spec.description,
    ...(expertOf(spec) ? { modelCategory: "extended_reasoning" as ToolCategory } : {}),
    input,
    annotations: { readOnlyHint: true, openWorldHint: Boolean(expertOf(spec) || spec.runStep) },
    handler: (args, ctx) => runStep(spec, args as unknown as WorkflowArgs<Extra>, ctx),
  });
  return card as unknown as ToolCard;
}

function expertOf<Extra extends z.ZodRawShape>(spec: WorkflowSpec<Extra>) {
  return spec.runStep ? undefined : spec.expert;
}

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
  return [
    `Step ${args.step_number}/${total} (${tool}): ${args.step}`,
    ...(args.findings ? [`Findings: ${args.findings}`] : []),
    ...(args.hypothesis ? [`Hypothesis: ${args.hypothesis}`] : []),
    ...(args.confidence ? [`Confidence: ${args.confidence}`] : []),
    ...((args.relevant_files ?? []).length > 0
      ? [`Relevant files: ${(args.relevant_files ?? []).map((f) => (typeof f === "string" ? f : f.path)).join(", ")}`]
      : []),
  ].join("\n");
}

async function runStep<Extra extends z.ZodRawShape>(spec: WorkflowSpec<Extra>, raw: WorkflowArgs<Extra>, ctx: ToolContext): Promise<ToolResult> {
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

  const extraOfStep = Object.fromEntries(Object.keys(spec.extra).map((key) => [key, (args as Record<string, unknown>)[key]]));
  const state = withStep(previous, args, extraOfStep);
  const consolidated = consolidate(state);
  const inputs = await resolveInputs(ctx, args.relevant_files ?? [], args.images ?? []);
  if (inputs.missing.length > 0) return jsonResult(filesRequiredOutput(tool, inputs.missing));

  const session: StepSession<WorkflowArgs<Extra>> = {
    ctx,
    args,
    thread,
    state,
    consolidated,
    inputs,
    relevantEntries: async () => {
      const fresh = new Set(inputs.files.map((entry) => entry.path));
      const earlier = await resolveReferences(ctx, consolidated.relevantFiles.filter((path) => !fresh.has(path)));
      const unresolved = [...earlier.missing, ...earlier.invalid];
      const kept = thread ? await storedFiles(ctx, thread.threadId, unresolved) : [];
      const gone = unresolved.filter((path) => !kept.some((file) => file.path === path));
      return {
        entries: [...earlier.entries, ...kept, ...inputs.files],
        skipped: [...inputs.skipped, ...gone.map((path) => ({ path, reason: "named at an earlier step, and no longer uploaded: send it again" }))],
      };
    },
  };
  const writer = thread
    ? ThreadWriter.continuing(ctx, thread)
    : ThreadWriter.starting(ctx, { creatorTool: tool, initialContext: initialContextOf(args), title: args.step.slice(0, 120) });

  const outcome = spec.runStep ? await spec.runStep(session) : final ? await complete(spec, session) : pause(spec, session);
  if (outcome.isError) return jsonResult({ ...outcome.response, metadata: { tool_name: tool } }, { isError: true });

  // Inline files are kept for the final step (uploaded ones are resolved again then: their latest content wins).
  const kept = inputs.files.flatMap((entry) => (entry.content !== undefined ? [{ ...entry, tokens: estimateTokens(entry.content) }] : []));
  const shown = outcome.shown ?? [];
  const stepTurn: NewTurn = {
    role: "user",
    content: stepTurnContent(tool, args, state.totalSteps),
    files: shown.map((file) => file.path),
    images: (args.images ?? []).map(describeImage),
    tool,
  };
  const stored: WorkflowState = { ...state, memory: outcome.memory ?? state.memory };
  const commit = await writer.commit([stepTurn, ...(outcome.turns ?? [])], [...kept, ...shown], { tool, state: JSON.stringify(stored) });
  const offer = continuationOffer(writer.threadId, remainingAfter(commit, ctx));
  const call = outcome.call;
  return jsonResult({
    ...outcome.response,
    ...(offer ? { continuation_id: writer.threadId } : {}),
    continuation_offer: offer,
    metadata: {
      tool_name: tool,
      ...(call
        ? { model_used: call.model.requestedName, model_name: call.response.modelName, provider_used: call.model.provider.id, usage: call.response.usage }
        : {}),
      ...(call?.fallbackFrom ? { fallback_from: call.fallbackFrom } : {}),
      ...(outcome.skipped && outcome.skipped.length > 0 ? { files_skipped: outcome.skipped } : {}),
      ...outcome.metadata,
    },
  });
}

/** A tool without investigation fields (planner) has no counters, files or findings to report. */
function investigates(spec: FieldChoice): boolean {
  return spec.investigates !== false;
}

/** The entries whose field the tool takes, as an object (a value without a field is always there). */
function reported(spec: FieldChoice, entries: Array<[InvestigationField | undefined, string, unknown]>): Record<string, unknown> {
  const fields = fieldsOf(spec);
  return Object.fromEntries(entries.filter(([field]) => !field || fields.has(field)).map(([, key, value]) => [key, value]));
}

function progressOf(spec: FieldChoice & { noun: string; statusDetails?(c: Consolidated): Record<string, unknown> }, session: StepSession<StepArgs>) {
  const { args, state, consolidated: c } = session;
  const position = { step_number: args.step_number, total_steps: state.totalSteps, next_step_required: args.next_step_required };
  if (!investigates(spec)) return position;
  return {
    ...position,
    [`${spec.noun}_status`]: {
      ...reported(spec, [
        ["files_checked", "files_checked", c.filesChecked.length],
        ["relevant_files", "relevant_files", c.relevantFiles.length],
        ["relevant_context", "relevant_context", c.relevantContext.length],
        ["issues_found", "issues_found", c.issues.length],
        ["confidence", "current_confidence", c.confidence],
      ]),
      ...spec.statusDetails?.(c),
    },
  };
}

function pause<Extra extends z.ZodRawShape>(spec: ProtocolCard<Extra>, session: StepSession<WorkflowArgs<Extra>>): StepOutcome {
  const { args, state } = session;
  const files = (args.relevant_files ?? []).map((f) => (typeof f === "string" ? f : f.path));
  const next = args.step_number + 1;
  return {
    response: {
      status: `pause_for_${spec.noun}`,
      ...progressOf(spec, session),
      [`${spec.noun}_required`]: true,
      required_actions: spec.requiredActions(args, session.consolidated),
      next_steps:
        `MANDATORY: do NOT call ${spec.name} again at once. First do the required_actions yourself (read the code, run what ` +
        `helps), then call ${spec.name} with step_number ${next} of ${Math.max(state.totalSteps, next)}, your new findings, ` +
        "and this continuation_id.",
      ...(investigates(spec)
        ? {
            file_context: {
              type: "reference_only",
              note: files.length > 0 ? `Files referenced in this step: ${files.join(", ")}` : "No files referenced in this step.",
            },
          }
        : {}),
      ...spec.onPause?.(session),
    },
  };
}

/** The default rule for asking the expert: there is something to check (files, several findings, or issues). */
export function hasWorkForExpert(c: Consolidated): boolean {
  return c.relevantFiles.length > 0 || c.findings.length >= 2 || c.issues.length > 0;
}

function completion(spec: FieldChoice & { noun: string }, session: StepSession<StepArgs>) {
  const { args, state, consolidated: c } = session;
  return {
    [`complete_${spec.noun}`]: reported(spec, [
      [undefined, "initial_request", state.initialRequest],
      [undefined, "steps_taken", state.steps.length],
      ["files_checked", "files_examined", c.filesChecked],
      ["relevant_files", "relevant_files", c.relevantFiles],
      ["relevant_context", "relevant_context", c.relevantContext],
      ["issues_found", "issues_found", c.issues],
      ["findings", "work_summary", c.findings.join("\n")],
      ["findings", "final_analysis", args.findings ?? ""],
      ["confidence", "confidence_level", c.confidence],
    ]),
  };
}

async function complete<Extra extends z.ZodRawShape>(
  spec: ProtocolCard<Extra>,
  session: StepSession<WorkflowArgs<Extra>>,
): Promise<StepOutcome> {
  const { args } = session;
  // The session continues an earlier conversation of the thread (the original's "continuation").
  const continuing = session.state.turnsBefore > 0;
  const base = { ...progressOf(spec, session), ...(investigates(spec) ? completion(spec, session) : {}) };
  const expert = spec.expert;
  const byRule = spec.skipExpert?.(args, continuing) ?? false;
  if (!expert || byRule || args.use_assistant_model === false) {
    const skippedExpert = expert !== undefined;
    return {
      response: {
        status: spec.completeStatus,
        ...base,
        next_steps: spec.nextSteps(args, false),
        ...(skippedExpert
          ? {
              skip_expert_analysis: true,
              expert_analysis: byRule
                ? {
                    status: "skipped_by_tool_rule",
                    reason: "The tool's rule (certain confidence, or internal validation) finishes with the agent's own analysis; no external check was made.",
                  }
                : { status: "skipped_by_user", reason: "use_assistant_model is false: the agent completes the work alone." },
            }
          : {}),
        ...spec.onComplete?.(session),
      },
    };
  }
  const callWhen = expert.callWhen ?? ((_: WorkflowArgs<Extra>, c: Consolidated) => hasWorkForExpert(c));
  if (!callWhen(args, session.consolidated, continuing)) {
    return { response: { status: "local_work_complete", ...base, next_steps: spec.nextSteps(args, false), ...spec.onComplete?.(session) } };
  }
  return askExpert(spec, expert, session, base);
}

async function askExpert<Extra extends z.ZodRawShape>(
  spec: ProtocolCard<Extra>,
  expert: ExpertPolicy<WorkflowArgs<Extra>>,
  session: StepSession<WorkflowArgs<Extra>>,
  base: Record<string, unknown>,
): Promise<StepOutcome> {
  const { ctx, args, thread, state, consolidated } = session;
  const { chosen, budget } = await chooseModelFor(ctx, args.model, "extended_reasoning", thread);
  const relevant = await session.relevantEntries();
  const context = await renderContext(ctx, {
    thread,
    budget,
    files: relevant.entries,
    // The expert sees the thread as it was before this session; the session itself is summarized below.
    turns: (turn) => turn.index <= state.turnsBefore,
  });
  const prompt = expertPrompt({
    history: context.history,
    requestHeading: expert.requestHeading,
    state,
    consolidated,
    sections: expert.sections?.(args) ?? [],
    files: context.files,
    filesHeading: expert.filesHeading ?? "ESSENTIAL FILES",
    instruction: expert.instruction,
  });
  await ctx.progress(`${spec.name}: asking ${chosen.model.capabilities.modelName} for expert analysis`);
  const call = await askModel(ctx, chosen, {
    systemPrompt: withLocale(expert.systemPrompt, ctx.config.locale),
    prompt,
    ...(session.inputs.images.length > 0 ? { images: session.inputs.images } : {}),
    temperature: args.temperature ?? 1,
    thinkingMode: args.thinking_mode ?? expert.thinkingMode?.(ctx) ?? "high",
  });
  const analysis = parseExpertReply(call.response.text);
  const common = { turns: [modelTurn(spec.name, call)], shown: context.shown, call, skipped: [...relevant.skipped, ...context.skipped] };
  if (analysis.status && PROMOTED_STATUSES.has(analysis.status)) {
    return { ...common, response: { status: analysis.status, ...progressOf(spec, session), content: call.response.text, content_type: "json" } };
  }
  return {
    ...common,
    response: {
      status: "calling_expert_analysis",
      ...base,
      expert_analysis: analysis,
      next_steps: spec.nextSteps(args, true),
      important_considerations:
        "You MUST validate the expert's findings against the code before acting on them: they come from a model that " +
        "saw only what was sent. Adopt what holds, say what you reject and why.",
      ...spec.onComplete?.(session),
    },
  };
}
