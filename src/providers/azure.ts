import type { Generate } from "./http";
import { generateResponses } from "./openai";
import { generateChat } from "./openai-compatible";

/** Azure OpenAI: a deployment per model, named in the URL, with an `api-key` header. */
export const generate: Generate = (provider, model, request, options) => {
  const deployment = model.capabilities.deployment ?? model.capabilities.modelName;
  const headers = { "api-key": provider.apiKey };
  const version = encodeURIComponent(provider.apiVersion ?? "");
  if (model.capabilities.useResponsesApi) {
    return generateResponses({ url: `${provider.baseUrl}/openai/responses?api-version=${version}`, headers, model: deployment }, model, request, options);
  }
  const url = `${provider.baseUrl}/openai/deployments/${encodeURIComponent(deployment)}/chat/completions?api-version=${version}`;
  return generateChat({ url, headers, model: deployment, maxTokensField: "max_completion_tokens" }, model, request, options);
};
