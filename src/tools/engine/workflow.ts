import { z } from "zod";
import type { ToolCategory } from "../../providers/descriptor";
import { defineTool, type ToolCard } from "../define";
import { continuationIdField, temperatureField, thinkingModeField } from "../fields";
import { runWorkflowStep } from "./runner";
import { expertOf, fieldsOf, type WorkflowArgs, type WorkflowSpec } from "./spec";
import { investigationFields, stepCore, type InvestigationField } from "./steps";

/**
 * The fields every workflow tool takes, as the original's schemas had them: the step, the
 * investigation fields the tool uses, `use_assistant_model` (meaningful only with an expert,
 * accepted by all), the expert's model settings, and the continuation id.
 */
function stepFields<Extra extends z.ZodRawShape>(spec: WorkflowSpec<Extra>) {
  const fields = fieldsOf(spec);
  const investigation = Object.fromEntries(Object.entries(investigationFields).filter(([key]) => fields.has(key as InvestigationField)));
  return {
    ...stepCore,
    ...(investigation as Partial<typeof investigationFields>),
    use_assistant_model: z.boolean().optional(),
    ...(expertOf(spec) ? { temperature: temperatureField.optional(), thinking_mode: thinkingModeField.optional() } : {}),
    ...(spec.acceptsModel ? { model: z.string().optional() } : {}),
    continuation_id: continuationIdField.optional(),
  };
}

/**
 * A workflow tool from its card: the shared step fields plus its own, its statuses, the actions
 * it asks for between steps, its skip rule and expert policy, and hooks where it really differs.
 * The engine keeps the session's state in the thread's Durable Object, keyed by continuation id.
 */
export function defineWorkflowTool<Extra extends z.ZodRawShape>(spec: WorkflowSpec<Extra>): ToolCard {
  const expert = expertOf(spec);
  const card = defineTool({
    name: spec.name,
    title: spec.title,
    description: spec.description,
    ...(expert ? { modelCategory: "extended_reasoning" as ToolCategory } : {}),
    input: { ...stepFields(spec), ...spec.extra },
    annotations: { readOnlyHint: true, openWorldHint: Boolean(expert || spec.runStep) },
    handler: (args, ctx) => runWorkflowStep(spec, args as unknown as WorkflowArgs<Extra>, ctx),
  });
  return card as unknown as ToolCard;
}
