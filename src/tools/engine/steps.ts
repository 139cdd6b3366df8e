import { z } from "zod";
import type { Thread } from "../../core/rpc/conversation";
import type { FileReference } from "../../files/references";
import { advertise, filesField, imagesField } from "../fields";

/**
 * The step protocol every workflow tool shares: its fields, the state a session of steps builds
 * up in its thread, and what is derived from it. The protocol itself is explained once, in the
 * server's instructions, so these fields carry no descriptions of their own.
 */

export const CONFIDENCE_LEVELS = ["exploring", "low", "medium", "high", "very_high", "almost_certain", "certain"] as const;

/** Severities from the most to the least serious ("info" notes what needs no fix). */
export const SEVERITIES = ["critical", "high", "medium", "low", "info"] as const;

/**
 * An issue the agent found: its severity and description, and whatever else it says about it
 * (type, location, fix, ...), all kept for the completion and the expert's prompt.
 */
const issue = z.looseObject({ severity: z.enum(SEVERITIES), description: z.string() });
export type Issue = z.infer<typeof issue>;

/**
 * A list field that takes a string as an empty list, as the original's schemas did: an assistant
 * sometimes sends one path as a plain string, and the step should not fail for it.
 */
function stringAsEmptyList<T extends z.ZodType>(list: T) {
  return z.preprocess((value) => (typeof value === "string" ? [] : value), list);
}

/** The five fields every step sends. */
export const stepCore = {
  step: z.string(),
  step_number: z.number().int().min(1),
  total_steps: z.number().int().min(1),
  next_step_required: z.boolean(),
};

/** The investigation fields of the tools that gather findings (all but planner). */
export const investigationFields = {
  findings: z.string(),
  relevant_files: stringAsEmptyList(filesField).optional(),
  files_checked: stringAsEmptyList(z.array(z.string())).optional(),
  relevant_context: stringAsEmptyList(z.array(z.string())).optional(),
  issues_found: advertise(z.array(issue), { type: "array", items: { type: "object" } }).optional(),
  // The server instructions list the levels, so the schema need not.
  confidence: advertise(z.enum(CONFIDENCE_LEVELS), { type: "string" }).optional(),
  hypothesis: z.string().optional(),
  images: imagesField.optional(),
};

export type InvestigationField = keyof typeof investigationFields;

/** The arguments the engine reads, whatever the tool adds. */
export interface StepArgs {
  step: string;
  step_number: number;
  total_steps: number;
  next_step_required: boolean;
  findings?: string;
  relevant_files?: FileReference[];
  files_checked?: string[];
  relevant_context?: string[];
  issues_found?: Issue[];
  confidence?: string;
  hypothesis?: string;
  images?: string[];
  use_assistant_model?: boolean;
  continuation_id?: string;
  model?: string;
  temperature?: number;
  thinking_mode?: "minimal" | "low" | "medium" | "high" | "max";
}

/** What one step contributed, as stored. */
export interface StepRecord {
  stepNumber: number;
  step: string;
  findings: string;
  filesChecked: string[];
  /** Paths (or content references) of the files the agent found relevant. */
  relevantFiles: string[];
  relevantContext: string[];
  issues: Issue[];
  hypothesis?: string;
  confidence?: string;
  /** Image paths (data URLs are not kept: they do not fit a stored row). */
  images: string[];
  /** How many images the step sent inline as data URLs (counted, not kept). */
  inlineImages: number;
  /** The tool's own fields of this step (planner's branches, docgen's counters, ...). */
  extra: Record<string, unknown>;
}

/** A session of steps of one tool in one thread. */
export interface WorkflowState {
  initialRequest: string;
  /** Turns the thread had before the session began: the history an expert is shown. */
  turnsBefore: number;
  totalSteps: number;
  steps: StepRecord[];
  /** What the tool keeps across steps besides the steps (consensus's verdicts, ...). */
  memory: Record<string, unknown>;
}

/**
 * The session a step continues (this tool's state in the thread), or a new one it starts: step 1
 * always starts one, so a second session of the tool in a thread never inherits the first's steps.
 */
export function sessionOf(tool: string, thread: Thread | undefined, step: StepArgs): WorkflowState {
  const stored = step.step_number > 1 ? thread?.workflows[tool] : undefined;
  if (stored) return JSON.parse(stored) as WorkflowState;
  return { initialRequest: step.step, turnsBefore: thread?.turnCount ?? 0, totalSteps: step.total_steps, steps: [], memory: {} };
}

/** The state with this step added (a step sent again replaces its earlier record). */
export function withStep(state: WorkflowState, args: StepArgs, extra: Record<string, unknown>): WorkflowState {
  const record: StepRecord = {
    stepNumber: args.step_number,
    step: args.step,
    findings: args.findings ?? "",
    filesChecked: args.files_checked ?? [],
    relevantFiles: (args.relevant_files ?? []).map(pathOf),
    relevantContext: args.relevant_context ?? [],
    issues: args.issues_found ?? [],
    ...(args.hypothesis ? { hypothesis: args.hypothesis } : {}),
    ...(args.confidence ? { confidence: args.confidence } : {}),
    images: (args.images ?? []).filter((image) => !isDataUrl(image)),
    inlineImages: (args.images ?? []).filter(isDataUrl).length,
    extra,
  };
  const steps = [...state.steps.filter((s) => s.stepNumber !== args.step_number), record].sort((a, b) => a.stepNumber - b.stepNumber);
  // A step past the announced total raises it, as the original did.
  return { ...state, steps, totalSteps: Math.max(args.total_steps, args.step_number) };
}

export function isDataUrl(image: string): boolean {
  return image.startsWith("data:");
}

/** A file reference's path (inline files are named by theirs). */
export function pathOf(file: FileReference): string {
  return typeof file === "string" ? file : file.path;
}

function unique<T>(items: T[], key: (item: T) => string = String): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = key(item);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The session's findings consolidated across its steps, derived from them. */
export function consolidate(state: WorkflowState) {
  const steps = state.steps;
  const images = unique(steps.flatMap((s) => s.images));
  return {
    filesChecked: unique(steps.flatMap((s) => [...s.filesChecked, ...s.relevantFiles])),
    relevantFiles: unique(steps.flatMap((s) => s.relevantFiles)),
    relevantContext: unique(steps.flatMap((s) => s.relevantContext)),
    // An issue repeated at a later step counts once; the same description at another location is another issue.
    issues: unique(
      steps.flatMap((s) => s.issues),
      (i) => JSON.stringify(i),
    ),
    hypotheses: steps.flatMap((s) => (s.hypothesis ? [{ step: s.stepNumber, hypothesis: s.hypothesis, confidence: s.confidence ?? "low" }] : [])),
    findings: steps.filter((s) => s.findings.trim() !== "").map((s) => `Step ${s.stepNumber}: ${s.findings}`),
    images,
    imagesCollected: images.length + steps.reduce((sum, s) => sum + s.inlineImages, 0),
    confidence: steps.at(-1)?.confidence ?? "low",
  };
}

export type Consolidated = ReturnType<typeof consolidate>;
