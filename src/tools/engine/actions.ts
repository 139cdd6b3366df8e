import type { Consolidated, StepArgs } from "./steps";

/**
 * The actions a workflow tool asks for between steps, chosen as the original did: the first
 * step gets the groundwork, then by the confidence the agent reports.
 */
export function actionsByConfidence(actions: { first: string[]; exploring: string[]; confirming: string[]; finishing: string[] }) {
  return (args: StepArgs, _consolidated: Consolidated): string[] => {
    if (args.step_number === 1) return actions.first;
    switch (args.confidence) {
      case undefined:
      case "exploring":
      case "low":
      case "incomplete":
        return actions.exploring;
      case "medium":
      case "high":
      case "partial":
        return actions.confirming;
      default:
        return actions.finishing;
    }
  };
}
