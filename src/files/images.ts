import type { BlobInfo } from "../core/rpc/blob";
import { MAX_IMAGES, MAX_IMAGE_MB, MAX_TOTAL_IMAGE_MB } from "../providers/index";
import type { ImageInput } from "../providers/types";
import { ToolError } from "../core/errors";
import { blobInfo, readForModel } from "./blob-store";
import type { FileScope } from "./resolve";

const MB = 1024 * 1024;
const MAX_IMAGE_BYTES = MAX_IMAGE_MB * MB;
const MAX_TOTAL_IMAGE_BYTES = MAX_TOTAL_IMAGE_MB * MB;

/** The image formats every vision provider accepts. */
const IMAGE_MEDIA_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const ACCEPTED = "PNG, JPEG, GIF or WebP";

const DATA_URL_HEADER = /^data:([a-z0-9.+-]+\/[a-z0-9.+-]+);base64$/i;
const BASE64 = /^[A-Za-z0-9+/=\s]*$/;

function megabytes(bytes: number): string {
  return (bytes / MB).toFixed(1);
}

/** Bytes behind base64 text, without decoding it. */
function decodedBytes(base64: string): number {
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  return Math.max(0, Math.floor((base64.length * 3) / 4) - padding);
}

/** A data URL's image, checked by its media type and its length before anything is decoded or copied. */
function inlineImage(image: string, position: number): ImageInput {
  const label = `Image ${position} (a data URL)`;
  const comma = image.indexOf(",");
  const mediaType = DATA_URL_HEADER.exec(comma === -1 ? "" : image.slice(0, comma))?.[1]?.toLowerCase();
  if (mediaType === undefined) throw new ToolError(`${label} is not a base64 data URL (data:image/png;base64,...).`);
  checkImage(label, mediaType, Math.floor(((image.length - comma - 1) * 3) / 4));
  const data = image.slice(comma + 1);
  if (!BASE64.test(data)) throw new ToolError(`${label} is not valid base64 after 'base64,'.`);
  const base64 = data.replace(/\s/g, "");
  return { mediaType, bytes: decodedBytes(base64), read: async () => base64 };
}

/** Checks one image by its media type and size; `label` names it in the message (its path, or its place). */
function checkImage(label: string, mediaType: string, bytes: number): void {
  if (!IMAGE_MEDIA_TYPES.has(mediaType)) {
    throw new ToolError(`${label} is not an image (${mediaType || "unknown type"}): send images as ${ACCEPTED}, and other files in the file list.`);
  }
  if (bytes > MAX_IMAGE_BYTES) {
    throw new ToolError(`${label} is ${megabytes(bytes)} MB; each image may be at most ${MAX_IMAGE_MB} MB. Send a smaller image.`);
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) binary += String.fromCharCode(...bytes.subarray(i, i + step));
  return btoa(binary);
}

/**
 * Images for a vision model: data URLs as given, absolute paths through the workspace manifest
 * to uploaded image blobs. Paths the server lacks are reported missing. The count, each image's
 * media type and size, and their total are checked (a ToolError says which limit) from the
 * blobs' stored facts. No byte of a blob is read here: the model call reads them, once the
 * chosen model has accepted their sizes (callModel).
 */
export async function loadImages(scope: FileScope, images: string[]): Promise<{ inputs: ImageInput[]; missing: string[] }> {
  if (images.length > MAX_IMAGES) {
    throw new ToolError(`At most ${MAX_IMAGES} images can be sent with one request; got ${images.length}. Send fewer images.`);
  }
  const paths = images.filter((image) => !image.startsWith("data:"));
  const registered = new Map(
    (paths.length > 0 ? await scope.env.TEAMS.getByName(scope.team).lookupFiles(scope.workspace, paths) : []).map((e) => [e.path, e.sha256]),
  );
  const inputs: ImageInput[] = [];
  const missing: string[] = [];
  for (const [index, image] of images.entries()) {
    if (image.startsWith("data:")) {
      inputs.push(inlineImage(image, index + 1));
      continue;
    }
    const sha256 = registered.get(image);
    const info = sha256 ? await blobInfo(scope.env, scope.team, sha256, scope.waitUntil) : null;
    if (!sha256 || !info) {
      missing.push(image);
      continue;
    }
    checkImage(`'${image}'`, info.mediaType, info.size);
    inputs.push({ mediaType: info.mediaType, bytes: info.size, read: () => readImage(scope, info, image) });
  }
  const total = inputs.reduce((sum, image) => sum + image.bytes, 0);
  if (total > MAX_TOTAL_IMAGE_BYTES) {
    throw new ToolError(`The images total ${megabytes(total)} MB; at most ${megabytes(MAX_TOTAL_IMAGE_BYTES)} MB can be sent with one request.`);
  }
  return missing.length > 0 ? { inputs: [], missing } : { inputs, missing };
}

/**
 * An uploaded image as base64, encoded piece by piece as R2 streams it (three bytes at a time make
 * four characters, so a piece's last one or two bytes wait for the next): the blob's bytes are
 * never held whole beside their encoding.
 */
async function readImage(scope: FileScope, info: BlobInfo, path: string): Promise<string> {
  const reader = (await readForModel(scope, info, path)).getReader();
  let base64 = "";
  let carried = new Uint8Array(0);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const bytes = new Uint8Array(carried.length + value.length);
      bytes.set(carried);
      bytes.set(value, carried.length);
      const whole = bytes.length - (bytes.length % 3);
      base64 += toBase64(bytes.subarray(0, whole));
      carried = bytes.slice(whole);
    }
  } catch {
    throw new ToolError(`'${path}' can no longer be read on the server: upload it again.`);
  }
  return base64 + toBase64(carried);
}
