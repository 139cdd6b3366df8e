import { z } from "zod";
import type { StepRecord } from "./engine/steps";
import { defineWorkflowTool, type StepSession } from "./engine/spec";
import { RENDERING, TRACE_MODES, type TraceMode } from "./prompts/tracer";

const extra = {
  trace_mode: z.enum(["precision", "dependencies", "ask"]).optional(),
  target_description: z.string(),
};

function concrete(mode: unknown): TraceMode | undefined {
  return mode === "precision" || mode === "dependencies" ? mode : undefined;
}

/** The session's mode: the last one chosen in its steps (trace_mode defaults to ask, which chooses none). */
function chosenMode(steps: StepRecord[]): TraceMode | undefined {
  return steps.map((s) => concrete(s.extra["trace_mode"])).findLast((mode) => mode !== undefined);
}

const ACTIONS: Record<TraceMode, string[]> = {
  precision: [
    "Find the target's definition and the entry points that start this execution, with file:line",
    "Follow every call the target makes in execution order, with file:line",
    "Note each branch (conditions, loops, early returns, exceptions) and the calls on each side",
    "Note the side effects: writes, I/O, network, shared or global state",
  ],
  dependencies: [
    "Find the target's definition, with file:line",
    "Find everything that calls, imports, extends or uses the target (incoming), with file:line",
    "Find everything the target calls, imports, extends or reads (outgoing), with file:line",
    "Note the direction of each dependency and any cycles",
  ],
};

/**
 * While no mode is chosen the trace cannot be planned or rendered, so the step (kept as the
 * session's progress) is answered with the two modes and the agent continues with the next step.
 */
function modeSelection({ args, state }: StepSession<{ step_number: number }>) {
  const next = args.step_number + 1;
  return {
    status: "mode_selection_required",
    next_step_required: true,
    total_steps: Math.max(state.totalSteps, next),
    trace_modes: TRACE_MODES,
    required_actions: ["Choose trace_mode precision or dependencies; ask the user when the request does not make it clear"],
    next_steps:
      `This step is kept as step ${args.step_number} of the trace. Choose a trace_mode, then call tracer with step_number ${next}, ` +
      "that trace_mode, your target_description and this continuation_id.",
  };
}

export const tracer = defineWorkflowTool({
  name: "tracer",
  title: "Tracer: call flow and dependencies",
  description:
    "Trace code in steps you do yourself: how a function executes (precision) or what depends on a class or module (dependencies). No model is called.",
  noun: "tracing",
  keys: { progress: "tracer_status" },
  // Nothing here weighs hypotheses or issues; confidence and images are only recorded (no model sees them).
  investigates: ["findings", "relevant_files", "files_checked", "relevant_context", "confidence", "images"],
  acceptsModel: true,
  extra,
  requiredActions: (args) => {
    const mode = concrete(args.trace_mode);
    if (mode) return ACTIONS[mode];
    return ["Continue the trace where the last step stopped", "Record file:line for every call or dependency you will show"];
  },
  onPause: (session) => (chosenMode(session.state.steps) ? {} : modeSelection(session)),
  completeStatus: "tracing_complete",
  // Without a mode nothing can be rendered: the session stays open until one is chosen.
  keepOpen: (session) => (chosenMode(session.state.steps) ? undefined : modeSelection(session)),
  onComplete: ({ state }) => {
    const mode = chosenMode(state.steps);
    return mode ? { output: { trace_mode: mode, rendering_instructions: RENDERING[mode] } } : {};
  },
  nextSteps: () => "The trace is complete: present it to the user as output.rendering_instructions says.",
});
