/** What tracer tells the agent; the tool calls no model, so these are its only prompts. */

export const TRACE_MODES = {
  precision: "how one function or method executes: every call it makes, in order, with branches and side effects",
  dependencies: "how a class, module or function is connected: who uses it (incoming) and what it uses (outgoing)",
} as const;

export type TraceMode = keyof typeof TRACE_MODES;

export const RENDERING: Record<TraceMode, string> = {
  precision:
    "Render the trace as an ASCII call-flow diagram in a code block, entry point at the top. One line per call, as " +
    "Class::method (file:line), indented under its caller and joined with arrows. Mark each branch with its condition " +
    "(if/else, loops, early returns, exceptions) and the calls on each side. List the side effects (writes, I/O, " +
    "network, shared state) with file:line after the diagram. Show only calls you saw in the code; mark guesses as such.",
  dependencies:
    "Render the dependencies as a table or an ASCII graph in a code block, the target in the middle. Incoming: every " +
    "caller, importer, subclass or user of the target, with file:line. Outgoing: everything the target calls, imports, " +
    "extends or reads, with file:line. Give the direction of each arrow, mark cycles, and end with the most coupled " +
    "parts. Show only dependencies you saw in the code; mark guesses as such.",
};
