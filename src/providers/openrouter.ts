import { keyedProvider, type Generate } from "./descriptor";
import models from "./models/openrouter.json";
import { bearer, generateChat } from "./openai-compatible";

const generate: Generate = (provider, model, request, options) => {
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

/** OpenRouter: Chat Completions plus its attribution headers (which app is calling). */
export const openrouter = keyedProvider({
  id: "openrouter",
  label: "OpenRouter",
  title: "OpenRouter",
  keyVariable: "OPENROUTER_API_KEY",
  baseUrl: { variable: "OPENROUTER_BASE_URL", default: "https://openrouter.ai/api/v1" },
  allowListVariables: ["OPENROUTER_ALLOWED_MODELS"],
  textSettings: [
    { variable: "OPENROUTER_REFERER", default: "https://github.com/zen-mcp-worker", setting: "referer" },
    { variable: "OPENROUTER_TITLE", default: "Zen MCP Worker", setting: "title" },
  ],
  models,
  generate,
});
