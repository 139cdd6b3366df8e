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
  // grok-4, grok-3 and grok-3-fast were retired on 2026-05-15: only users who name them get them.
  // Grok 4.20 costs less than Grok 4.7 (below its 200K-token threshold), so it takes the quick categories.
  preferredModels: {
    extended_reasoning: ["grok-4.7", "grok-4.20-0309-reasoning"],
    fast_response: ["grok-4.20-0309-reasoning", "grok-4.7"],
    balanced: ["grok-4.20-0309-reasoning", "grok-4.7"],
  },
  generate,
});
