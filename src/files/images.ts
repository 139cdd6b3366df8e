import type { ImageInput } from "../providers/types";
import { blobInfo, blobStub, chunkStream } from "./blob-store";
import type { FileScope } from "./resolve";

const IMAGE_DATA_URL = /^data:(image\/[a-z0-9.+-]+);base64,([A-Za-z0-9+/=\s]+)$/i;

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) binary += String.fromCharCode(...bytes.subarray(i, i + step));
  return btoa(binary);
}

/**
 * Images for a vision model: data URLs as given, absolute paths through the workspace manifest
 * to uploaded image blobs. Paths the server lacks (or that are not images) are reported missing.
 */
export async function loadImages(scope: FileScope, images: string[]): Promise<{ inputs: ImageInput[]; missing: string[] }> {
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
    const sha256 = registered.get(image);
    const info = sha256 ? await blobInfo(scope.env, scope.team, sha256, scope.waitUntil) : null;
    if (!sha256 || !info || !info.mediaType.startsWith("image/")) {
      missing.push(image);
      continue;
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
