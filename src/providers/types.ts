import type { ThinkingMode } from "../core/config";
import { UserFacingError } from "../core/errors";

/** The providers this server can call; each has its descriptor in the catalog (catalog.ts). */
export type ProviderId = "google" | "openai" | "azure" | "xai" | "anthropic" | "dial" | "custom" | "openrouter" | "workers-ai";

/**
 * An image for a vision-capable model, as tools hand it on: its media type and decoded size are
 * known from the start, its bytes are read (as base64) only once the chosen model has accepted
 * its size, when the call is made.
 */
export interface ImageInput {
  mediaType: string;
  bytes: number;
  read(): Promise<string>;
}

/** An image as a provider module sends it: base64 data with its media type. */
export interface ImageData {
  mediaType: string;
  data: string;
}

/** One model call in the provider-neutral shape every provider module maps to its wire format. */
export interface ModelRequest {
  systemPrompt: string;
  /** The user content: request text with files already embedded as text. */
  prompt: string;
  images?: ImageInput[];
  /** Requested temperature; corrected per model (fixed, range, discrete) or omitted when unsupported. */
  temperature?: number;
  /** The thinking budget (Gemini, Anthropic); ignored by providers without thinking budgets. */
  thinkingMode?: ThinkingMode;
  maxOutputTokens?: number;
}

/** A model request as a provider module sends it: its images read. */
export interface ProviderRequest extends Omit<ModelRequest, "images"> {
  images?: ImageData[];
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

export interface ModelResponse {
  text: string;
  usage: TokenUsage;
  /** Normalised: "stop", "length", "safety", "tool_calls", or the provider's own word. */
  finishReason: string;
  /** The model the upstream says answered (may be a dated version of the requested one). */
  modelName: string;
  provider: ProviderId;
}

/** Streaming progress from a provider while it generates. */
export interface GenerationProgress {
  outputChars: number;
}

export type ProviderErrorKind =
  /** 429, 5xx, network, timeout: retried, counts against the breaker. */
  | "retryable"
  /** 400, 401, 403, 404, context length: not retried, not counted. */
  | "final"
  /** The content was blocked by the provider's safety policy. */
  | "safety"
  /** The model answered with nothing, twice. */
  | "empty"
  /** The provider's circuit breaker is open: failed fast without a call. */
  | "breaker_open"
  /** The caller cancelled. */
  | "aborted";

/** A failed model call, with a message fit to show the assistant. */
export class ProviderError extends UserFacingError {
  override name = "ProviderError";
  constructor(
    readonly provider: ProviderId,
    readonly kind: ProviderErrorKind,
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
