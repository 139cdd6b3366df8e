import type { ResolvedModel } from "./descriptor";
import type { ModelRegistry } from "./registry";
import { ProviderError, type ImageData, type ImageInput } from "./types";

export const MAX_IMAGES = 5;
/** Per image, whatever the model (the original's provider-level limit). */
export const MAX_IMAGE_MB = 20;
/**
 * All images of one request together, whatever the model accepts, and all the images an isolate
 * holds at once: an isolate has 128 MB, and a call holds about four times its images' size (as
 * base64, in the request body built around them, and as that body's bytes on the wire).
 */
export const MAX_TOTAL_IMAGE_MB = 20;
const MB = 1024 * 1024;

/**
 * Rejects images the model cannot take, before any call is made and before any of their bytes
 * are read: a model without vision, more than 5 images, one over 20 MB, or more in total than the
 * model accepts (or than MAX_TOTAL_IMAGE_MB). The message names what would work. Not counted
 * against the provider's breaker: nothing was sent.
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
    if (image.bytes > MAX_IMAGE_MB * MB) throw reject(`Image ${index + 1} is ${megabytes(image.bytes)} MB; each image may be at most ${MAX_IMAGE_MB} MB.`);
    total += image.bytes;
  }
  // A vision model without a declared total, or with a larger one, is held to the server's.
  const modelLimited = caps.maxImageSizeMb > 0 && caps.maxImageSizeMb < MAX_TOTAL_IMAGE_MB;
  const limitMb = modelLimited ? caps.maxImageSizeMb : MAX_TOTAL_IMAGE_MB;
  if (total > limitMb * MB) {
    const who = modelLimited ? `${caps.modelName} accepts` : "this server sends";
    throw reject(`The images total ${megabytes(total)} MB; ${who} at most ${limitMb} MB per request.`);
  }
}

/**
 * The image bytes an isolate's calls hold at once. A call whose images do not fit waits, in
 * order, for the calls before it to finish; one call's images always fit (checkImages).
 */
class ImageBudget {
  private held = 0;
  private readonly waiting: Array<{ bytes: number; granted: () => void }> = [];

  constructor(private readonly capacity: number) {}

  /** Waits until `bytes` fit; rejects with the signal's reason if the caller gives up first. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.waiting.length === 0 && this.held + bytes <= this.capacity) {
      this.held += bytes;
      return;
    }
    signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const entry = {
        bytes,
        granted: () => {
          signal?.removeEventListener("abort", cancel);
          resolve();
        },
      };
      const cancel = () => {
        this.waiting.splice(this.waiting.indexOf(entry), 1);
        this.grant();
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", cancel, { once: true });
      this.waiting.push(entry);
    });
  }

  give(bytes: number): void {
    this.held -= bytes;
    this.grant();
  }

  private grant(): void {
    for (let next = this.waiting[0]; next && this.held + next.bytes <= this.capacity; next = this.waiting[0]) {
      this.waiting.shift();
      this.held += next.bytes;
      next.granted();
    }
  }
}

const imageBudget = new ImageBudget(MAX_TOTAL_IMAGE_MB * MB);

/**
 * Reads a call's images, within this isolate's image budget, and hands them to `send`; their
 * room in the budget is given back when `send` is done.
 */
export async function withImagesRead<T>(images: readonly ImageInput[] | undefined, signal: AbortSignal | undefined, send: (read: ImageData[] | undefined) => Promise<T>): Promise<T> {
  if (!images || images.length === 0) return send(undefined);
  const bytes = images.reduce((sum, image) => sum + image.bytes, 0);
  await imageBudget.take(bytes, signal);
  try {
    const read = await Promise.all(images.map(async (image) => ({ mediaType: image.mediaType, data: await image.read() })));
    return await send(read);
  } finally {
    imageBudget.give(bytes);
  }
}

function megabytes(bytes: number): string {
  return (bytes / MB).toFixed(1);
}
