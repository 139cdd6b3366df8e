import type { Generate } from "./http";
import { bearer, generateChat } from "./openai-compatible";

/**
 * A local or private OpenAI-compatible server (Ollama, vLLM, LM Studio). The key may be empty;
 * an Ollama tag given as `model:tag` goes back whole, on the canonical name.
 */
export const generate: Generate = (provider, model, request, options) => {
  const name = model.option ? `${model.capabilities.modelName}:${model.option}` : model.capabilities.modelName;
  return generateChat(
    { url: `${provider.baseUrl}/chat/completions`, headers: bearer(provider.apiKey), model: name, maxTokensField: "max_tokens" },
    model,
    request,
    options,
  );
};
