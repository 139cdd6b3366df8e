import type { Generate } from "./http";
import { bearer, generateChat } from "./openai-compatible";

/** OpenRouter: Chat Completions plus its attribution headers (which app is calling). */
export const generate: Generate = (provider, model, request, options) => {
  const headers = {
    ...bearer(provider.apiKey),
    ...(provider.referer ? { "HTTP-Referer": provider.referer } : {}),
    ...(provider.title ? { "X-Title": provider.title } : {}),
  };
  return generateChat(
    { url: `${provider.baseUrl}/chat/completions`, headers, model: model.capabilities.modelName, maxTokensField: "max_tokens" },
    model,
    request,
    options,
  );
};
