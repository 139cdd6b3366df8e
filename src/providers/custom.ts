import { key, text, url } from "../core/config";
import { settingsFrom, type Generate, type ProviderDescriptor } from "./descriptor";
import models from "./models/custom.json";
import { bearer, generateChat } from "./openai-compatible";

/** An Ollama tag given as `model:tag` goes back whole, on the canonical name. */
const generate: Generate = (provider, model, request, options) => {
  const name = model.option ? `${model.capabilities.modelName}:${model.option}` : model.capabilities.modelName;
  return generateChat(
    { url: `${provider.baseUrl}/chat/completions`, headers: bearer(provider.apiKey), model: name, maxTokensField: "max_tokens" },
    model,
    request,
    options,
  );
};

const KEY = "CUSTOM_API_KEY";
const BASE_URL = { variable: "CUSTOM_API_URL", default: "" } as const;
const MODEL_NAME = "CUSTOM_MODEL_NAME";

/**
 * A local or private OpenAI-compatible server (Ollama, vLLM, LM Studio): configured by its URL,
 * the key may be empty.
 */
export const custom: ProviderDescriptor = {
  id: "custom",
  label: "Custom endpoint",
  title: "Custom / local (OpenAI-compatible)",
  keyVariable: KEY,
  requiredVariables: [BASE_URL.variable],
  baseUrl: BASE_URL,
  allowListVariables: ["CUSTOM_ALLOWED_MODELS"],
  settings: settingsFrom(
    { [BASE_URL.variable]: url(BASE_URL.default) },
    { [KEY]: key(), [MODEL_NAME]: text("llama3.2") },
    (vars) => ({ apiKey: vars[KEY], baseUrl: vars[BASE_URL.variable], modelName: vars[MODEL_NAME] }),
  ),
  models,
  generate,
};
