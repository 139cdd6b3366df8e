import type { ProviderId } from "../config";
import * as azure from "./azure";
import * as custom from "./custom";
import * as dial from "./dial";
import * as gemini from "./gemini";
import type { Generate } from "./http";
import * as openai from "./openai";
import * as openrouter from "./openrouter";
import type { ModelRegistry, ResolvedModel } from "./registry";
import * as workersAi from "./workers-ai";
import * as xai from "./xai";
import { ProviderError, type ImageInput } from "./types";

export type { CallPolicy, Generate, GenerateOptions } from "./http";

/** One provider's wire format: a model call in, the provider-neutral response out. */
export interface ProviderModule {
  generate: Generate;
}

const MODULES: Record<ProviderId, ProviderModule> = { google: gemini, openai, azure, xai, dial, custom, openrouter, "workers-ai": workersAi };

export function providerModule(id: ProviderId): ProviderModule {
  return MODULES[id];
}

export const MAX_IMAGES = 5;
/** Per image, whatever the model (the original's provider-level limit). */
export const MAX_IMAGE_MB = 20;
/**
 * All images of one request together: no model takes more, and a local server's own claim of
 * image capacity is capped at it (the images are held in memory at once, as base64).
 */
export const MAX_TOTAL_IMAGE_MB = 40;
const MB = 1024 * 1024;

/**
 * Rejects images the model cannot take, before any call is made: a model without vision, more
 * than 5 images, one over 20 MB, or more in total than the model accepts. The message names what
 * would work. Not counted against the provider's breaker: nothing was sent.
 */
export function checkImages(registry: ModelRegistry, model: ResolvedModel, images: readonly ImageInput[] | undefined): void {
  if (!images || images.length === 0) return;
  const provider = model.provider.id;
  const caps = model.capabilities;
  const reject = (message: string) => new ProviderError(provider, "final", message);
  if (!caps.supportsImages) {
    const vision = registry
      .available()
      .filter((m) => m.supportsImages)
      .map((m) => m.modelName);
    const suggestion = vision.length > 0 ? `Models that accept images: ${vision.slice(0, 8).join(", ")}.` : "No configured model accepts images.";
    throw reject(`Model '${model.requestedName}' does not accept images. ${suggestion} Choose one of them, or send the request without images.`);
  }
  if (images.length > MAX_IMAGES) throw reject(`At most ${MAX_IMAGES} images can be sent with one request; got ${images.length}.`);
  let total = 0;
  for (const [index, image] of images.entries()) {
    if (!image.mediaType.startsWith("image/")) throw reject(`Image ${index + 1} has media type '${image.mediaType}', which is not an image.`);
    const bytes = decodedSize(image.data);
    if (bytes > MAX_IMAGE_MB * MB) throw reject(`Image ${index + 1} is ${megabytes(bytes)} MB; each image may be at most ${MAX_IMAGE_MB} MB.`);
    total += bytes;
  }
  const limitMb = provider === "custom" ? Math.min(caps.maxImageSizeMb, MAX_TOTAL_IMAGE_MB) : caps.maxImageSizeMb;
  // A vision model without a declared total is bound only by the per-image limit.
  if (limitMb > 0 && total > limitMb * MB) {
    throw reject(`The images total ${megabytes(total)} MB; ${caps.modelName} accepts at most ${limitMb} MB per request.`);
  }
}

/** Bytes behind a base64 string, without decoding it (line breaks, if any, count as data). */
function decodedSize(base64: string): number {
  const length = base64.length;
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  return Math.max(0, Math.floor((length * 3) / 4) - padding);
}

function megabytes(bytes: number): string {
  return (bytes / MB).toFixed(1);
}
