import { key, list, text, url } from "../core/config.ts";
import { allowedModels, settingsFrom, type Generate, type ProviderDescriptor } from "./descriptor";
import models from "./models/dial.json";
import { generateChat } from "./openai-compatible";

const generate: Generate = (provider, model, request, options) => {
  const name = model.capabilities.modelName;
  const version = encodeURIComponent(provider.apiVersion ?? "");
  const url = `${provider.baseUrl}/openai/deployments/${encodeURIComponent(name)}/chat/completions?api-version=${version}`;
  return generateChat({ url, headers: { "Api-Key": provider.apiKey }, model: name, maxTokensField: "max_tokens" }, model, request, options);
};

const KEY = "DIAL_API_KEY";
const BASE_URL = { variable: "DIAL_API_HOST", default: "https://core.dialx.ai" } as const;
const API_VERSION = "DIAL_API_VERSION";
const ALLOW_LIST = "DIAL_ALLOWED_MODELS";

/** DIAL: one deployment URL per model, an `Api-Key` header and an api-version on every call. */
export const dial: ProviderDescriptor = {
  id: "dial",
  label: "DIAL",
  title: "DIAL",
  keyVariable: KEY,
  requiredVariables: [KEY],
  baseUrl: BASE_URL,
  allowListVariables: [ALLOW_LIST],
  settings: settingsFrom(
    { [KEY]: key() },
    { [BASE_URL.variable]: url(BASE_URL.default), [API_VERSION]: text("2024-12-01-preview"), [ALLOW_LIST]: list() },
    (vars) => ({
      apiKey: vars[KEY],
      baseUrl: vars[BASE_URL.variable],
      apiVersion: vars[API_VERSION],
      allowedModels: allowedModels(vars[ALLOW_LIST]),
    }),
  ),
  models,
  generate,
};
