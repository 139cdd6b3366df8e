import type { z } from "zod";
import type { ThinkingMode } from "../../core/config";
import type { NewTurn, StoredFile, Thread } from "../../core/rpc/conversation";
import type { CallResult } from "../../providers/call";
import type { ToolContext } from "../define";
import type { RequestInputs, SkippedFile } from "./context";
import { investigationFields, type Consolidated, type InvestigationField, type StepArgs, type WorkflowState } from "./steps";

/**
 * What a workflow tool is: a card on the shared step protocol. This file says what a card holds;
 * workflow.ts turns one into an MCP tool, runner.ts runs its steps, protocol.ts shapes their answers.
 */

/** What a step hands back to the engine: its response fields, and what the thread should store. */
export interface StepOutcome {
  response: Record<string, unknown>;
  /** Turns besides the agent's step (a model's answer). */
  turns?: NewTurn[];
  /** Files shown to a model by this step: the only file contents a thread stores. */
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

/** Everything a step works with. */
export interface StepSession<Args> {
  ctx: ToolContext;
  args: Args;
  thread: Thread | undefined;
  /** The session with this step added. */
  state: WorkflowState;
  consolidated: Consolidated;
}

/** The session's files and images as a model is about to be shown them (nothing is missing). */
export type ModelInputs = Omit<RequestInputs, "missing">;

/**
 * The original's names of a tool's statuses and keys. They differ from tool to tool: most follow
 * the tool's noun, the paused-step flag its name (keysOf gives the rule, a card the exceptions).
 */
export interface StepKeys {
  /** Status of a paused step, e.g. pause_for_investigation. */
  pause: string;
  /** Flag of a paused step, e.g. codereview_required. */
  required: string;
  /** The counters every step reports, e.g. investigation_status. */
  progress: string;
  /** The final step's account of the session, e.g. complete_investigation. */
  summary: string;
  /** Flag of a completed session, e.g. investigation_complete. */
  done: string;
}

export function keysOf(spec: { name: string; noun: string; keys?: Partial<StepKeys> }): StepKeys {
  return {
    pause: `pause_for_${spec.noun}`,
    required: `${spec.name}_required`,
    progress: `${spec.noun}_status`,
    summary: `complete_${spec.noun}`,
    done: `${spec.noun}_complete`,
    ...spec.keys,
  };
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
   * `continuing`: the session continues an earlier conversation of the thread.
   */
  callWhen?(args: Args, consolidated: Consolidated, continuing: boolean): boolean;
  thinkingMode?(ctx: ToolContext): ThinkingMode;
}

/** The tool's rule for finishing without the expert (certain confidence, internal validation). */
export interface SkipRule<Args> {
  applies(args: Args): boolean;
  /** The original's `expert_analysis.status` when the rule applies, e.g. skipped_due_to_certain_confidence. */
  status: string;
  reason: string;
}

interface CardBasics<Extra extends z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  /** Names the statuses and keys (see StepKeys). */
  noun: string;
  /** The original's names where they do not follow the rule of keysOf. */
  keys?: Partial<StepKeys>;
  /** The tool's own fields; they may replace a shared one (refactor's confidence scale). */
  extra: Extra;
  /**
   * The shared investigation fields the tool takes: all by default; a list for a tool that uses only
   * some (its status and completion then report only those); false for a tool without any (planner).
   */
  investigates?: false | readonly InvestigationField[];
  /** The original's schema has `model` though the tool asks no expert (planner, tracer): accepted and ignored. */
  acceptsModel?: boolean;
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
  /** Finishing without the expert by the tool's own rule. */
  skip?: SkipRule<WorkflowArgs<Extra>>;
  /** Status of a completion by the skip rule, or of every completion of a tool without an expert. */
  completeStatus: string;
  /** What the agent does once the work is complete. */
  nextSteps(args: WorkflowArgs<Extra>, withExpert: boolean): string;
  /** Extra fields of the counters every step reports (codereview's issues by severity). */
  statusDetails?(session: StepSession<WorkflowArgs<Extra>>): Record<string, unknown>;
  /** Extra response fields of a paused step (planner's deep thinking, tracer's mode selection). */
  onPause?(session: StepSession<WorkflowArgs<Extra>>): Record<string, unknown>;
  /** Extra response fields of a completed session (tracer's rendering instructions). */
  onComplete?(session: StepSession<WorkflowArgs<Extra>>): Record<string, unknown>;
  /**
   * A final step the tool does not take as the end (docgen with files left, tracer without a mode):
   * the answer given instead of a completion, which keeps the session open.
   */
  keepOpen?(session: StepSession<WorkflowArgs<Extra>>): Record<string, unknown> | undefined;
  runStep?: undefined;
}

/** A tool whose steps are its own (consensus asks models at every step); the engine keeps its state and thread. */
export interface CustomStepCard<Extra extends z.ZodRawShape> extends CardBasics<Extra> {
  runStep(session: StepSession<WorkflowArgs<Extra>>, inputs: ModelInputs): Promise<StepOutcome>;
}

export type WorkflowSpec<Extra extends z.ZodRawShape> = ProtocolCard<Extra> | CustomStepCard<Extra>;

export type WorkflowArgs<Extra extends z.ZodRawShape> = StepArgs & z.infer<z.ZodObject<Extra>>;

type FieldChoice = { investigates?: false | readonly InvestigationField[] };

/** The shared investigation fields a tool takes. */
export function fieldsOf(spec: FieldChoice): ReadonlySet<InvestigationField> {
  if (spec.investigates === false) return new Set();
  return new Set(spec.investigates ?? (Object.keys(investigationFields) as InvestigationField[]));
}

/** The expert a card asks at its final step, if any. */
export function expertOf<Extra extends z.ZodRawShape>(spec: WorkflowSpec<Extra>): ExpertPolicy<WorkflowArgs<Extra>> | undefined {
  return spec.runStep ? undefined : spec.expert;
}
