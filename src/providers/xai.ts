import type { Generate } from "./http";
import { bearer, generateChat } from "./openai-compatible";

/** X.AI speaks Chat Completions with a bearer key. */
export const generate: Generate = (provider, model, request, options) =>
  generateChat(
    { url: `${provider.baseUrl}/chat/completions`, headers: bearer(provider.apiKey), model: model.capabilities.modelName, maxTokensField: "max_tokens" },
    model,
    request,
    options,
  );
