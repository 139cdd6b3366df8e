import { z } from "zod";
import { UserFacingError } from "../errors";
import { askModel, askModels } from "./engine/ask";
import { chooseModelFor, renderContext, type RequestInputs } from "./engine/context";
import { modelTurn } from "./engine/exchange";
import { defineWorkflowTool, type StepOutcome, type StepSession } from "./engine/workflow";
import type { StepArgs } from "./engine/steps";
import { filesField, imagesField } from "./fields";
import type { FileEntry } from "../files/resolve";
import type { ChosenModel } from "../providers/call";
import type { CallResult, ModelRequest } from "../providers/types";
import { consensusPrompt, type Stance } from "./prompts/consensus";
import { withLocale } from "./prompts/shared";

interface Panelist {
  model: string;
  stance: Stance;
  stance_prompt?: string;
}

interface Verdict extends Panelist {
  index: number;
  status: "success" | "error";
  verdict?: string;
  error?: string;
  metadata?: { provider: string; model_name: string };
}

interface Memory {
  panel: Panelist[];
  parallel: boolean;
  verdicts: Verdict[];
}

const panelist = z.object({
  model: z.string().min(1),
  stance: z.enum(["for", "against", "neutral"]).optional(),
  stance_prompt: z.string().optional(),
});

type Args = StepArgs & { models?: Array<z.infer<typeof panelist>>; parallel?: boolean };

function label(p: Panelist): string {
  return `${p.model} (${p.stance})`;
}

/** What one panelist is asked: the proposal and the files, blinded to the thread and the other verdicts. */
async function briefing(session: StepSession<Args>, p: Panelist, files: FileEntry[], inputs: RequestInputs) {
  const { chosen, budget } = await chooseModelFor(session.ctx, p.model, "extended_reasoning", undefined);
  const context = await renderContext(session.ctx, { thread: undefined, budget, files });
  const request: ModelRequest = {
    systemPrompt: withLocale(consensusPrompt(p.stance, p.stance_prompt), session.ctx.config.locale),
    prompt: [
      "=== PROPOSAL ===",
      session.state.initialRequest,
      ...(context.files ? ["", "=== CONTEXT FILES ===", context.files, "=== END CONTEXT FILES ==="] : []),
      "",
      "Evaluate the proposal from your stance, in the output format of your instructions.",
    ].join("\n"),
    temperature: 1,
    thinkingMode: "medium",
    ...(inputs.images.length > 0 ? { images: inputs.images } : {}),
  };
  return { chosen, request } satisfies { chosen: ChosenModel; request: ModelRequest };
}

function verdictOf(p: Panelist, index: number, outcome: PromiseSettledResult<CallResult>): Verdict {
  if (outcome.status === "fulfilled") {
    const call = outcome.value;
    return { ...p, index, status: "success", verdict: call.response.text, metadata: { provider: call.model.provider.id, model_name: call.response.modelName } };
  }
  // A panelist's failure is its verdict; anything but a user-facing error is a bug and is raised.
  if (!(outcome.reason instanceof UserFacingError)) throw outcome.reason;
  return { ...p, index, status: "error", error: outcome.reason.message };
}

async function consult(session: StepSession<Args>): Promise<StepOutcome> {
  const { args, ctx } = session;
  const memory: Memory =
    args.step_number === 1 || !session.state.memory["panel"]
      ? {
          panel: (args.models ?? []).map((m) => ({ model: m.model, stance: m.stance ?? "neutral", ...(m.stance_prompt ? { stance_prompt: m.stance_prompt } : {}) })),
          parallel: args.parallel ?? false,
          verdicts: [],
        }
      : (session.state.memory as unknown as Memory);
  const unknown = memory.panel.filter((p) => !ctx.registry.tryResolve(p.model)).map((p) => p.model);
  if (unknown.length > 0) {
    const available = ctx.registry.available().map((m) => m.modelName).join(", ");
    return { isError: true, response: { status: "consensus_failed", error: `Unknown or unavailable models: ${unknown.join(", ")}. Available: ${available}.`, step_number: args.step_number } };
  }
  const indexes = memory.parallel ? memory.panel.map((_, i) => i) : [args.step_number - 1];
  if (indexes[0]! >= memory.panel.length) {
    return { isError: true, response: { status: "consensus_failed", error: `All ${memory.panel.length} models were consulted at steps 1-${memory.panel.length}; synthesize their verdicts.`, step_number: args.step_number } };
  }
  const relevant = await session.relevantEntries();
  const files = relevant.entries;
  const asks = await Promise.all(indexes.map((i) => briefing(session, memory.panel[i]!, files, session.inputs)));
  const outcomes: Array<PromiseSettledResult<CallResult>> =
    asks.length === 1
      ? [await askModel(ctx, asks[0]!.chosen, asks[0]!.request).then((value) => ({ status: "fulfilled" as const, value }), (reason: unknown) => ({ status: "rejected" as const, reason }))]
      : await askModels(ctx, asks);
  const fresh = indexes.map((i, n) => verdictOf(memory.panel[i]!, i, outcomes[n]!));
  const verdicts = [...memory.verdicts.filter((v) => !indexes.includes(v.index)), ...fresh].sort((a, b) => a.index - b.index);
  const done = memory.parallel || args.step_number >= memory.panel.length;
  const turns = fresh.flatMap((v, n) => {
    const outcome = outcomes[n];
    return outcome?.status === "fulfilled" ? [modelTurn("consensus", outcome.value, `Verdict of ${label(v)}:\n${v.verdict ?? ""}`)] : [];
  });
  const models = memory.panel.map(label);
  const single = fresh.length === 1 ? fresh[0] : undefined;
  return {
    turns,
    skipped: relevant.skipped,
    memory: { ...memory, verdicts } as unknown as Record<string, unknown>,
    metadata: { workflow_type: "multi_model_consensus", [done ? "models_consulted" : "models_to_consult"]: models },
    response: {
      status: done ? "consensus_workflow_complete" : args.step_number === 1 ? "analysis_and_first_model_consulted" : "model_consulted",
      step_number: args.step_number,
      total_steps: memory.parallel ? 1 : memory.panel.length,
      next_step_required: !done,
      ...(single ? { model_consulted: single.model, model_stance: single.stance, model_response: single, current_model_index: single.index + 1 } : {}),
      ...(args.step_number === 1 ? { agent_analysis: args.findings ?? "" } : {}),
      accumulated_responses: verdicts,
      consensus_workflow_status: { models_consulted: verdicts.length, total_models: memory.panel.length },
      ...(done
        ? {
            complete_consensus: { initial_prompt: session.state.initialRequest, models_consulted: models, total_responses: verdicts.length },
            next_steps:
              "Synthesize the verdicts for the user: where the models agree, where and why they disagree, your recommendation " +
              "with its reasoning, concrete next steps, and the risks to watch. Weigh each verdict by its arguments, not its stance.",
          }
        : {
            next_steps:
              `Note this verdict without acting on it yet. Call consensus with step_number ${args.step_number + 1}, your notes ` +
              `as step and findings, and this continuation_id, to consult ${label(memory.panel[args.step_number]!)}.`,
          }),
    },
  };
}

export const consensus = defineWorkflowTool({
  name: "consensus",
  title: "Consensus of several models",
  description:
    "Have 2+ models, each with a stance (for, against, neutral), judge a proposal independently: one per step, or all at once with parallel.",
  noun: "consensus",
  investigates: false,
  extra: {
    findings: z.string(),
    relevant_files: filesField.optional(),
    images: imagesField.optional(),
    models: z.array(panelist).min(2).optional(),
    parallel: z.boolean().optional(),
    current_model_index: z.number().int().optional(),
    model_responses: z.array(z.unknown()).optional(),
  },
  check(args) {
    if (args.step_number !== 1) return undefined;
    if (!args.models) return "Step 1 needs `models`: at least two entries {model, stance?, stance_prompt?}.";
    const pairs = args.models.map((m) => `${m.model.toLowerCase()}:${m.stance ?? "neutral"}`);
    if (new Set(pairs).size !== pairs.length) return "Each (model, stance) pair may appear once in `models`.";
    return undefined;
  },
  runStep: consult,
});
