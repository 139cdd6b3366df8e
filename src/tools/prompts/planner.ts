/** What planner tells the agent; the tool calls no model, so these are its only prompts. */

/** Reflection asked for in the first three steps of a long plan (five steps or more), by step. */
export const DEEP_THINKING: readonly (readonly string[])[] = [
  [
    "What exactly is the goal, and how will you know it is reached?",
    "Which constraints are fixed (deadlines, systems, people, compatibility) and which are assumptions?",
    "What are two or three fundamentally different ways to get there, and why prefer one?",
    "Who or what is affected by the change, and what must keep working throughout?",
  ],
  [
    "Which phases does the chosen approach need, and in what order do they depend on each other?",
    "Where is the plan most likely to fail, and what would you do then?",
    "Which step can be tried small first to test the riskiest assumption?",
  ],
  [
    "Does every phase have a clear outcome you can check?",
    "Is anything missing between the phases (migrations, rollout, communication, clean-up)?",
    "Should an earlier step be revised, or an alternative be kept as a branch?",
  ],
];

export const PLAN_PRESENTATION =
  "Present the final plan from plan_summary to the user: a short title and goal, then the steps in order, each a numbered " +
  "heading with what is done and what it depends on. Show the branches as alternatives after the step they start from, " +
  "with when to choose each. Where the structure helps (dependencies, phases, parallel work, branches), add ASCII " +
  "diagrams with boxes and arrows in a code block. Plain text only: no emojis. Give no time estimates or dates unless the " +
  "user asked for them. End with the first concrete action to take.";
