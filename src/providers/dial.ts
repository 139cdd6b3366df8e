import { keyedProvider, type Generate } from "./descriptor";
import models from "./models/dial.json";
import { generateChat } from "./openai-compatible";

const generate: Generate = (provider, model, request, options) => {
  const name = model.capabilities.modelName;
  const version = encodeURIComponent(provider.apiVersion ?? "");
  const url = `${provider.baseUrl}/openai/deployments/${encodeURIComponent(name)}/chat/completions?api-version=${version}`;
  return generateChat({ url, headers: { "Api-Key": provider.apiKey }, model: name, maxTokensField: "max_tokens" }, model, request, options);
};

/** DIAL: one deployment URL per model, an `Api-Key` header and an api-version on every call. */
export const dial = keyedProvider({
  id: "dial",
  label: "DIAL",
  title: "DIAL",
  keyVariable: "DIAL_API_KEY",
  baseUrl: { variable: "DIAL_API_HOST", default: "https://core.dialx.ai" },
  allowListVariables: ["DIAL_ALLOWED_MODELS"],
  textSettings: [{ variable: "DIAL_API_VERSION", default: "2024-12-01-preview", setting: "apiVersion" }],
  models,
  generate,
});
