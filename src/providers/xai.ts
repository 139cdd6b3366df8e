import { keyedProvider, type Generate } from "./descriptor";
import models from "./models/xai.json";
import { bearer, generateChat } from "./openai-compatible";

const generate: Generate = (provider, model, request, options) =>
  generateChat(
    { url: `${provider.baseUrl}/chat/completions`, headers: bearer(provider.apiKey), model: model.capabilities.modelName, maxTokensField: "max_tokens" },
    model,
    request,
    options,
  );

/** X.AI speaks Chat Completions with a bearer key. */
export const xai = keyedProvider({
  id: "xai",
  label: "X.AI",
  title: "X.AI (Grok)",
  keyVariable: "XAI_API_KEY",
  baseUrl: { variable: "XAI_BASE_URL", default: "https://api.x.ai/v1" },
  allowListVariables: ["XAI_ALLOWED_MODELS"],
  models,
  catalogNames: { prefix: "x-ai/", family: /^grok-/i },
  preferredModels: {
    extended_reasoning: ["grok-4", "grok-3"],
    fast_response: ["grok-3-fast", "grok-4"],
    balanced: ["grok-3-fast", "grok-4"],
  },
  generate,
});
