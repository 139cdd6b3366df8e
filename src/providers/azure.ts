import { z } from "zod";
import { json, key, text, url } from "../core/config";
import { parseModelEntry } from "./capabilities";
import { settingsFrom, type Generate, type ProviderDescriptor } from "./descriptor";
import models from "./models/azure.json";
import { generateResponses } from "./openai";
import { generateChat } from "./openai-compatible";

/** A deployment per model, named in the URL, with an `api-key` header. */
const generate: Generate = (provider, model, request, options) => {
  const deployment = model.capabilities.deployment ?? model.capabilities.modelName;
  const headers = { "api-key": provider.apiKey };
  const version = encodeURIComponent(provider.apiVersion ?? "");
  if (model.capabilities.useResponsesApi) {
    return generateResponses({ url: `${provider.baseUrl}/openai/responses?api-version=${version}`, headers, model: deployment }, model, request, options);
  }
  const url = `${provider.baseUrl}/openai/deployments/${encodeURIComponent(deployment)}/chat/completions?api-version=${version}`;
  return generateChat({ url, headers, model: deployment, maxTokensField: "max_completion_tokens" }, model, request, options);
};

const KEY = "AZURE_OPENAI_API_KEY";
const BASE_URL = { variable: "AZURE_OPENAI_ENDPOINT", default: "" } as const;
const API_VERSION = "AZURE_OPENAI_API_VERSION";
const MODELS = "AZURE_MODELS";

const MODELS_FORMAT = 'must be JSON: an array of model entries (or {"models": [...]}), each with a "deployment"';
const modelEntries = z
  .union([z.array(z.unknown()), z.object({ models: z.array(z.unknown()) })], { error: MODELS_FORMAT })
  .transform((entries) => (Array.isArray(entries) ? entries : entries.models));

/** Azure OpenAI: the deployments of one resource, listed in `AZURE_MODELS` (nothing is shipped). */
export const azure: ProviderDescriptor = {
  id: "azure",
  label: "Azure OpenAI",
  title: "Azure OpenAI",
  keyVariable: KEY,
  requiredVariables: [KEY, BASE_URL.variable],
  baseUrl: BASE_URL,
  allowListVariables: ["AZURE_OPENAI_ALLOWED_MODELS", "AZURE_ALLOWED_MODELS"],
  settings: settingsFrom(
    { [KEY]: key(), [BASE_URL.variable]: url(BASE_URL.default) },
    { [API_VERSION]: text("2024-02-15-preview"), [MODELS]: json(modelEntries, MODELS_FORMAT) },
    (vars) => ({
      apiKey: vars[KEY],
      baseUrl: vars[BASE_URL.variable],
      apiVersion: vars[API_VERSION],
      models: (vars[MODELS] ?? []).map((entry) => parseModelEntry("azure", entry, MODELS)),
    }),
  ),
  models,
  generate,
};
