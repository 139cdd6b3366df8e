import { key, list, text, url } from "../core/config.ts";
import { allowedModels, settingsFrom, type Generate, type ProviderDescriptor } from "./descriptor";
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

const KEY = "OPENROUTER_API_KEY";
const BASE_URL = { variable: "OPENROUTER_BASE_URL", default: "https://openrouter.ai/api/v1" } as const;
const REFERER = "OPENROUTER_REFERER";
const TITLE = "OPENROUTER_TITLE";
const ALLOW_LIST = "OPENROUTER_ALLOWED_MODELS";

/** OpenRouter: Chat Completions plus its attribution headers (which app is calling). */
export const openrouter: ProviderDescriptor = {
  id: "openrouter",
  label: "OpenRouter",
  title: "OpenRouter",
  keyVariable: KEY,
  requiredVariables: [KEY],
  baseUrl: BASE_URL,
  allowListVariables: [ALLOW_LIST],
  settings: settingsFrom(
    { [KEY]: key() },
    {
      [BASE_URL.variable]: url(BASE_URL.default),
      [REFERER]: text("https://github.com/zen-mcp-worker"),
      [TITLE]: text("Zen MCP Worker"),
      [ALLOW_LIST]: list(),
    },
    (vars) => ({
      apiKey: vars[KEY],
      baseUrl: vars[BASE_URL.variable],
      referer: vars[REFERER],
      title: vars[TITLE],
      allowedModels: allowedModels(vars[ALLOW_LIST]),
    }),
  ),
  models,
  generate,
};
