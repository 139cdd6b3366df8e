import type { Generate } from "./http";
import { generateChat } from "./openai-compatible";

/** DIAL: one deployment URL per model, an `Api-Key` header and an api-version on every call. */
export const generate: Generate = (provider, model, request, options) => {
  const name = model.capabilities.modelName;
  const version = encodeURIComponent(provider.apiVersion ?? "");
  const url = `${provider.baseUrl}/openai/deployments/${encodeURIComponent(name)}/chat/completions?api-version=${version}`;
  return generateChat({ url, headers: { "Api-Key": provider.apiKey }, model: name, maxTokensField: "max_tokens" }, model, request, options);
};
