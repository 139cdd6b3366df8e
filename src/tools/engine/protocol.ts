import type { z } from "zod";
import { withLocale } from "../prompts/shared";
import { askModel } from "./ask";
import { chooseModelFor, renderContext } from "./context";
import { modelTurn } from "./exchange";
import { expertPrompt, parseExpertReply, PROMOTED_STATUSES } from "./expert";
import {
  fieldsOf,
  keysOf,
  type ExpertPolicy,
  type ModelInputs,
  type ProtocolCard,
  type SkipRule,
  type StepOutcome,
  type StepSession,
  type WorkflowArgs,
} from "./spec";
import { pathOf, type Consolidated, type InvestigationField, type StepArgs } from "./steps";

/**
 * The answers of the shared step protocol, as the original gave them: a paused step, and the
 * ways a session ends (kept open, complete, skipped by the tool's rule, done locally, or checked
 * by the expert).
 */

type Session<Extra extends z.ZodRawShape> = StepSession<WorkflowArgs<Extra>>;

/** How a final step ends; only an expert's check shows the session's files to a model. */
export type Ending<Args> =
  | { kind: "open"; response: Record<string, unknown> }
  | { kind: "complete" }
  | { kind: "skipped"; rule: SkipRule<Args> }
  | { kind: "local" }
  | { kind: "expert"; expert: ExpertPolicy<Args> };

/** The default rule for asking the expert: there is something to check (files, several findings, or issues). */
export function hasWorkForExpert(c: Consolidated): boolean {
  return c.relevantFiles.length > 0 || c.findings.length >= 2 || c.issues.length > 0;
}

/**
 * How the final step ends, decided before anything is read: a tool's refusal to end comes first,
 * then a tool without an expert completes, then the skip rule (an internal review never asks
 * one, whatever the thread holds), then `use_assistant_model: false` or too little to check
 * finish locally, and otherwise the expert is asked.
 */
export function endingOf<Extra extends z.ZodRawShape>(spec: ProtocolCard<Extra>, session: Session<Extra>): Ending<WorkflowArgs<Extra>> {
  const { args, consolidated } = session;
  const open = spec.keepOpen?.(session);
  if (open) return { kind: "open", response: open };
  if (!spec.expert) return { kind: "complete" };
  if (spec.skip?.applies(args)) return { kind: "skipped", rule: spec.skip };
  const continuing = session.state.turnsBefore > 0;
  const callWhen = spec.expert.callWhen ?? ((_: WorkflowArgs<Extra>, c: Consolidated) => hasWorkForExpert(c));
  if (args.use_assistant_model === false || !callWhen(args, consolidated, continuing)) return { kind: "local" };
  return { kind: "expert", expert: spec.expert };
}

/** The entries whose field the tool takes, as an object (a value without a field is always there). */
function reported(fields: ReadonlySet<InvestigationField>, entries: Array<[InvestigationField | undefined, string, unknown]>) {
  return Object.fromEntries(entries.filter(([field]) => !field || fields.has(field)).map(([, key, value]) => [key, value]));
}

/** Where the session stands: the step's position and the counters every step reports. */
function progressOf<Extra extends z.ZodRawShape>(spec: ProtocolCard<Extra>, session: Session<Extra>): Record<string, unknown> {
  const { args, state, consolidated: c } = session;
  const position = { step_number: args.step_number, total_steps: state.totalSteps, next_step_required: args.next_step_required };
  if (spec.investigates === false && !spec.statusDetails) return position;
  const counters = reported(fieldsOf(spec), [
    ["files_checked", "files_checked", c.filesChecked.length],
    ["relevant_files", "relevant_files", c.relevantFiles.length],
    ["relevant_context", "relevant_context", c.relevantContext.length],
    ["issues_found", "issues_found", c.issues.length],
    ["images", "images_collected", c.imagesCollected],
    ["confidence", "current_confidence", c.confidence],
  ]);
  return { ...position, [keysOf(spec).progress]: { ...counters, ...spec.statusDetails?.(session) } };
}

/** The files of this step, named and not shown: a paused step never reads them. */
function referenceOnly(args: StepArgs) {
  const files = (args.relevant_files ?? []).map(pathOf);
  return {
    type: "reference_only",
    note: files.length > 0 ? `Files referenced in this step: ${files.join(", ")}` : "No files referenced in this step.",
  };
}

export function pause<Extra extends z.ZodRawShape>(spec: ProtocolCard<Extra>, session: Session<Extra>): StepOutcome {
  const { args, state } = session;
  const keys = keysOf(spec);
  const next = args.step_number + 1;
  return {
    response: {
      status: keys.pause,
      ...progressOf(spec, session),
      [keys.required]: true,
      required_actions: spec.requiredActions(args, session.consolidated),
      next_steps:
        `MANDATORY: do NOT call ${spec.name} again at once. First do the required_actions yourself (read the code, run what ` +
        `helps), then call ${spec.name} with step_number ${next} of ${Math.max(state.totalSteps, next)}, your new findings, ` +
        "and this continuation_id.",
      ...(spec.investigates !== false ? { file_context: referenceOnly(args) } : {}),
      ...spec.onPause?.(session),
    },
  };
}

/** What every completion reports: the counters, the done flag, and the session's account of its work. */
function completed<Extra extends z.ZodRawShape>(spec: ProtocolCard<Extra>, session: Session<Extra>, fileContext: Record<string, unknown>) {
  const { args, state, consolidated: c } = session;
  const keys = keysOf(spec);
  return {
    ...progressOf(spec, session),
    [keys.done]: true,
    ...(spec.investigates !== false
      ? {
          [keys.summary]: reported(fieldsOf(spec), [
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
          file_context: fileContext,
        }
      : {}),
  };
}

/** A final step that ends without a model: kept open, complete, skipped by the tool's rule, or done locally. */
export function finish<Extra extends z.ZodRawShape>(
  spec: ProtocolCard<Extra>,
  session: Session<Extra>,
  ending: Exclude<Ending<WorkflowArgs<Extra>>, { kind: "expert" }>,
): StepOutcome {
  const { args } = session;
  if (ending.kind === "open") return { response: { ...progressOf(spec, session), ...ending.response } };
  const done = completed(spec, session, referenceOnly(args));
  switch (ending.kind) {
    case "complete":
      return { response: { status: spec.completeStatus, ...done, next_steps: spec.nextSteps(args, false), ...spec.onComplete?.(session) } };
    case "skipped":
      return {
        response: {
          status: spec.completeStatus,
          ...done,
          next_steps: spec.nextSteps(args, false),
          skip_expert_analysis: true,
          expert_analysis: { status: ending.rule.status, reason: ending.rule.reason },
          ...spec.onComplete?.(session),
        },
      };
    case "local":
      return {
        response: {
          status: "local_work_complete",
          ...done,
          next_steps:
            `Your ${spec.name} work is complete without another model's check: present your findings, their evidence and ` +
            "your recommendations to the user, and say that no second model reviewed them.",
          ...spec.onComplete?.(session),
        },
      };
  }
}

/** What the agent does with a status the expert answered with instead of its analysis. */
function promotedNextSteps(status: string, analysis: Record<string, unknown>): string {
  if (status === "files_required_to_continue") {
    return (
      "The expert needs more files (files_needed in content). Send them in relevant_files ({path, content} inline, or " +
      "paths the bridge uploads) and call this final step again with the same continuation_id."
    );
  }
  const said = analysis["next_steps"];
  return typeof said === "string" && said !== "" ? said : "Do what the expert asks in content, then call this final step again with the same continuation_id.";
}

/** The final step checked by the expert: shown the session's findings and files, its answer parsed. */
export async function askExpert<Extra extends z.ZodRawShape>(
  spec: ProtocolCard<Extra>,
  expert: ExpertPolicy<WorkflowArgs<Extra>>,
  session: Session<Extra>,
  inputs: ModelInputs,
): Promise<StepOutcome> {
  const { ctx, args, thread, state, consolidated } = session;
  const { chosen, budget } = await chooseModelFor(ctx, args.model, "extended_reasoning", thread);
  const context = await renderContext(ctx, {
    thread,
    budget,
    files: inputs.files,
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
    ...(inputs.images.length > 0 ? { images: inputs.images } : {}),
    temperature: args.temperature ?? 1,
    thinkingMode: args.thinking_mode ?? expert.thinkingMode?.(ctx) ?? "high",
  });
  const analysis = parseExpertReply(call.response.text);
  const common = { turns: [modelTurn(spec.name, call)], shown: context.shown, call, skipped: [...inputs.skipped, ...context.skipped] };
  if (analysis.status && PROMOTED_STATUSES.has(analysis.status)) {
    return {
      ...common,
      response: {
        status: analysis.status,
        ...progressOf(spec, session),
        content: JSON.stringify(analysis),
        content_type: "json",
        next_steps: promotedNextSteps(analysis.status, analysis),
      },
    };
  }
  const embedded = { type: "fully_embedded", files_embedded: context.shown.length + context.alreadyShown.length };
  return {
    ...common,
    response: {
      status: "calling_expert_analysis",
      ...completed(spec, session, embedded),
      expert_analysis: analysis,
      next_steps: spec.nextSteps(args, true),
      important_considerations:
        "You MUST validate the expert's findings against the code before acting on them: they come from a model that " +
        "saw only what was sent. Adopt what holds, say what you reject and why.",
      ...spec.onComplete?.(session),
    },
  };
}
