import { ToolError } from "../errors";
import { MAX_IMAGE_MB, MAX_IMAGES } from "../providers/index";
import type { ImageInput } from "../providers/types";
import { blobInfo, blobStub, chunkStream } from "./blob-store";
import type { FileScope } from "./resolve";

const IMAGE_DATA_URL = /^data:(image\/[a-z0-9.+-]+);base64,([A-Za-z0-9+/=\s]+)$/i;
const MB = 1024 * 1024;

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) binary += String.fromCharCode(...bytes.subarray(i, i + step));
  return btoa(binary);
}

/**
 * Images for a vision model: data URLs as given, absolute paths through the workspace manifest
 * to uploaded image blobs. Paths the server lacks are reported missing. The count, the type and
 * the size are checked before any blob is read: an image is held whole in memory to be encoded.
 */
export async function loadImages(scope: FileScope, images: string[]): Promise<{ inputs: ImageInput[]; missing: string[] }> {
  if (images.length > MAX_IMAGES) {
    throw new ToolError(`At most ${MAX_IMAGES} images can be sent with one request; got ${images.length}. Send the ones that matter most.`);
  }
  const inputs: ImageInput[] = [];
  const missing: string[] = [];
  const paths = images.filter((image) => !image.startsWith("data:"));
  const registered = new Map(
    (paths.length > 0 ? await scope.env.TEAMS.getByName(scope.team).lookupFiles(scope.workspace, paths) : []).map((e) => [e.path, e.sha256]),
  );
  for (const image of images) {
    const match = IMAGE_DATA_URL.exec(image);
    if (match?.[1] && match[2]) {
      inputs.push({ mediaType: match[1].toLowerCase(), data: match[2].replace(/\s/g, "") });
      continue;
    }
    if (image.startsWith("data:")) {
      throw new ToolError(`An image given inline must be a base64 data URL of an image (data:image/png;base64,...); got '${image.slice(0, 40)}'.`);
    }
    const sha256 = registered.get(image);
    const info = sha256 ? await blobInfo(scope.env, scope.team, sha256, scope.waitUntil) : null;
    if (!sha256 || !info) {
      missing.push(image);
      continue;
    }
    if (!info.mediaType.startsWith("image/")) {
      throw new ToolError(`'${image}' is not an image (${info.mediaType || "unknown type"}): name image files in images, and other files with the file list.`);
    }
    if (info.size > MAX_IMAGE_MB * MB) {
      throw new ToolError(`'${image}' is ${(info.size / MB).toFixed(1)} MB; each image may be at most ${MAX_IMAGE_MB} MB. Send a smaller image.`);
    }
    const bytes = new Uint8Array(info.size);
    let offset = 0;
    const reader = chunkStream(blobStub(scope.env, scope.team, sha256), info.chunkCount).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes.set(value, offset);
      offset += value.byteLength;
    }
    inputs.push({ mediaType: info.mediaType, data: toBase64(bytes) });
  }
  return { inputs, missing };
}
