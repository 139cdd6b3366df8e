import { key, list, url } from "../core/config.ts";
import { allowedModels, settingsFrom, type Generate, type ProviderDescriptor } from "./descriptor";
import models from "./models/xai.json";
import { bearer, generateChat } from "./openai-compatible";

const generate: Generate = (provider, model, request, options) =>
  generateChat(
    { url: `${provider.baseUrl}/chat/completions`, headers: bearer(provider.apiKey), model: model.capabilities.modelName, maxTokensField: "max_tokens" },
    model,
    request,
    options,
  );

const KEY = "XAI_API_KEY";
const BASE_URL = { variable: "XAI_BASE_URL", default: "https://api.x.ai/v1" } as const;
const ALLOW_LIST = "XAI_ALLOWED_MODELS";

/** X.AI speaks Chat Completions with a bearer key. */
export const xai: ProviderDescriptor = {
  id: "xai",
  label: "X.AI",
  title: "X.AI (Grok)",
  keyVariable: KEY,
  requiredVariables: [KEY],
  baseUrl: BASE_URL,
  allowListVariables: [ALLOW_LIST],
  settings: settingsFrom({ [KEY]: key() }, { [BASE_URL.variable]: url(BASE_URL.default), [ALLOW_LIST]: list() }, (vars) => ({
    apiKey: vars[KEY],
    baseUrl: vars[BASE_URL.variable],
    allowedModels: allowedModels(vars[ALLOW_LIST]),
  })),
  models,
  generate,
};
