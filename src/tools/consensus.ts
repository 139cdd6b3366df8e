import { z } from "zod";
import { UserFacingError } from "../core/errors";
import type { StoredFile } from "../core/rpc/conversation";
import type { CallResult, ChosenModel } from "../providers/call";
import type { ToolContext } from "./define";
import { askModel, askModels } from "./engine/ask";
import { chooseModelFor, renderContext } from "./engine/context";
import { modelTurn } from "./engine/exchange";
import { defineWorkflowTool } from "./engine/workflow";
import { type ModelInputs, type StepOutcome, type StepSession } from "./engine/spec";
import type { StepArgs } from "./engine/steps";
import type { ModelRequest } from "../providers/types";
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

/** A panelist as the original named it: "model:stance". */
function label(p: Panelist): string {
  return `${p.model}:${p.stance}`;
}

/** What one panelist is asked, with its model chosen once: the proposal and the files, blinded to the thread and the other verdicts. */
async function briefing({ ctx, state }: StepSession<Args>, p: Panelist, inputs: ModelInputs) {
  const { chosen, budget } = await chooseModelFor(ctx, p.model, "extended_reasoning", undefined);
  const context = await renderContext(ctx, { thread: undefined, budget, files: inputs.files });
  const request: ModelRequest = {
    systemPrompt: withLocale(consensusPrompt(p.stance, p.stance_prompt), ctx.config.locale),
    prompt: [
      "=== PROPOSAL ===",
      state.initialRequest,
      ...(context.files ? ["", "=== CONTEXT FILES ===", context.files, "=== END CONTEXT FILES ==="] : []),
      "",
      "Evaluate the proposal from your stance, in the output format of your instructions.",
    ].join("\n"),
    temperature: 1,
    thinkingMode: "medium",
    ...(inputs.images.length > 0 ? { images: inputs.images } : {}),
  };
  return { chosen, request, shown: context.shown } satisfies { chosen: ChosenModel; request: ModelRequest; shown: StoredFile[] };
}

/** Asks the briefed panelists (one with its own progress, several at once), each outcome its own. */
async function askPanel(ctx: ToolContext, asks: Array<{ chosen: ChosenModel; request: ModelRequest }>): Promise<Array<PromiseSettledResult<CallResult>>> {
  if (asks.length !== 1) return asks.length === 0 ? [] : askModels(ctx, asks);
  const [only] = asks as [{ chosen: ChosenModel; request: ModelRequest }];
  return [await askModel(ctx, only.chosen, only.request).then((value) => ({ status: "fulfilled" as const, value }), (reason: unknown) => ({ status: "rejected" as const, reason }))];
}

function verdictOf(p: Panelist, index: number, outcome: PromiseSettledResult<CallResult>): Verdict {
  if (outcome.status === "fulfilled") {
    const call = outcome.value;
    return { ...p, index, status: "success", verdict: call.response.text, metadata: { provider: call.model.provider.id, model_name: call.response.modelName } };
  }
  // A panelist's failure (an unknown model too) is its verdict; anything but a user-facing error is a bug and is raised.
  if (!(outcome.reason instanceof UserFacingError)) throw outcome.reason;
  return { ...p, index, status: "error", error: outcome.reason.message };
}

async function consult(session: StepSession<Args>, inputs: ModelInputs): Promise<StepOutcome> {
  const { args, ctx } = session;
  const memory: Memory =
    args.step_number === 1 || !session.state.memory["panel"]
      ? {
          panel: (args.models ?? []).map((m) => ({ model: m.model, stance: m.stance ?? "neutral", ...(m.stance_prompt ? { stance_prompt: m.stance_prompt } : {}) })),
          parallel: args.parallel ?? false,
          verdicts: [],
        }
      : (session.state.memory as unknown as Memory);
  const indexes = memory.parallel ? memory.panel.map((_, i) => i) : [args.step_number - 1];
  if (indexes[0]! >= memory.panel.length) {
    return { isError: true, response: { status: "consensus_failed", error: `All ${memory.panel.length} models were consulted at steps 1-${memory.panel.length}; synthesize their verdicts.`, step_number: args.step_number } };
  }
  const briefed = await Promise.allSettled(indexes.map((i) => briefing(session, memory.panel[i]!, inputs)));
  const ready = briefed.flatMap((b) => (b.status === "fulfilled" ? [b.value] : []));
  const answers = await askPanel(ctx, ready);
  let answered = 0;
  const outcomes = briefed.map((b) => (b.status === "fulfilled" ? answers[answered++]! : b));
  const fresh = indexes.map((i, n) => verdictOf(memory.panel[i]!, i, outcomes[n]!));
  const verdicts = [...memory.verdicts.filter((v) => !indexes.includes(v.index)), ...fresh].sort((a, b) => a.index - b.index);
  const done = memory.parallel || args.step_number >= memory.panel.length;
  const turns = fresh.flatMap((v, n) => {
    const outcome = outcomes[n];
    return outcome?.status === "fulfilled" ? [modelTurn("consensus", outcome.value, `Verdict of ${label(v)}:\n${v.verdict ?? ""}`)] : [];
  });
  const shown = [...new Map(ready.flatMap((b) => b.shown).map((file) => [file.path, file])).values()];
  const single = fresh.length === 1 ? fresh[0] : undefined;
  return {
    turns,
    shown,
    skipped: inputs.skipped,
    memory: { ...memory, verdicts } as unknown as Record<string, unknown>,
    metadata: { workflow_type: "multi_model_consensus", [done ? "models_consulted" : "models_to_consult"]: memory.panel.map(label) },
    response: {
      status: done ? "consensus_workflow_complete" : args.step_number === 1 ? "analysis_and_first_model_consulted" : "model_consulted",
      step_number: args.step_number,
      total_steps: memory.parallel ? 1 : memory.panel.length,
      next_step_required: !done,
      ...(single ? { model_consulted: single.model, model_stance: single.stance, model_response: single, current_model_index: single.index + 1 } : {}),
      ...(args.step_number === 1 ? { agent_analysis: { initial_analysis: args.step, findings: args.findings ?? "" } } : {}),
      accumulated_responses: verdicts,
      consensus_workflow_status: { models_consulted: verdicts.length, total_models: memory.panel.length },
      ...(done
        ? {
            consensus_complete: true,
            complete_consensus: { initial_prompt: session.state.initialRequest, models_consulted: verdicts.map(label), total_responses: verdicts.length },
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
  investigates: ["findings", "relevant_files", "images"],
  extra: {
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
