import type { BlobInfo } from "../durable/blob";
import { MAX_IMAGES, MAX_IMAGE_MB, MAX_TOTAL_IMAGE_MB } from "../providers/index";
import type { ImageInput } from "../providers/types";
import { ToolError } from "../errors";
import { blobInfo, blobStub, chunkStream } from "./blob-store";
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

/** An image to send: inline data as given, or an uploaded blob to read once every limit has passed. */
type PlannedImage = { input: ImageInput; bytes: number } | { sha256: string; info: BlobInfo; bytes: number };

/** A data URL's image, checked by its media type and its length before anything is decoded or copied. */
function inlineImage(image: string, position: number): { input: ImageInput; bytes: number } {
  const label = `Image ${position} (a data URL)`;
  const comma = image.indexOf(",");
  const mediaType = DATA_URL_HEADER.exec(comma === -1 ? "" : image.slice(0, comma))?.[1]?.toLowerCase();
  if (mediaType === undefined) throw new ToolError(`${label} is not a base64 data URL (data:image/png;base64,...).`);
  checkImage(label, mediaType, Math.floor(((image.length - comma - 1) * 3) / 4));
  const data = image.slice(comma + 1);
  if (!BASE64.test(data)) throw new ToolError(`${label} is not valid base64 after 'base64,'.`);
  const base64 = data.replace(/\s/g, "");
  return { input: { mediaType, data: base64 }, bytes: Math.floor((base64.length * 3) / 4) };
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
 * media type and size, and their total are checked (a ToolError says which limit) before any
 * image is read, from the blob's stored facts, and nothing is read while one is missing.
 */
export async function loadImages(scope: FileScope, images: string[]): Promise<{ inputs: ImageInput[]; missing: string[] }> {
  if (images.length > MAX_IMAGES) {
    throw new ToolError(`At most ${MAX_IMAGES} images can be sent with one request; got ${images.length}. Send fewer images.`);
  }
  const paths = images.filter((image) => !image.startsWith("data:"));
  const registered = new Map(
    (paths.length > 0 ? await scope.env.TEAMS.getByName(scope.team).lookupFiles(scope.workspace, paths) : []).map((e) => [e.path, e.sha256]),
  );
  const planned: PlannedImage[] = [];
  const missing: string[] = [];
  for (const [index, image] of images.entries()) {
    if (image.startsWith("data:")) {
      planned.push(inlineImage(image, index + 1));
      continue;
    }
    const sha256 = registered.get(image);
    const info = sha256 ? await blobInfo(scope.env, scope.team, sha256, scope.waitUntil) : null;
    if (!sha256 || !info) {
      missing.push(image);
      continue;
    }
    checkImage(`'${image}'`, info.mediaType, info.size);
    planned.push({ sha256, info, bytes: info.size });
  }
  const total = planned.reduce((sum, image) => sum + image.bytes, 0);
  if (total > MAX_TOTAL_IMAGE_BYTES) {
    throw new ToolError(`The images total ${megabytes(total)} MB; at most ${megabytes(MAX_TOTAL_IMAGE_BYTES)} MB can be sent with one request.`);
  }
  if (missing.length > 0) return { inputs: [], missing };
  const inputs: ImageInput[] = [];
  for (const image of planned) inputs.push("input" in image ? image.input : await readImage(scope, image.sha256, image.info));
  return { inputs, missing };
}

async function readImage(scope: FileScope, sha256: string, info: BlobInfo): Promise<ImageInput> {
  const bytes = new Uint8Array(info.size);
  let offset = 0;
  const reader = chunkStream(blobStub(scope.env, scope.team, sha256), info.chunkCount).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes.set(value, offset);
    offset += value.byteLength;
  }
  return { mediaType: info.mediaType, data: toBase64(bytes) };
}
