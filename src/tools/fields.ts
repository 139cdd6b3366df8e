import { z } from "zod";
import { THINKING_MODES } from "../config";
import { fileReference } from "../files/references";

/** Fields shared by the tools' schemas, described once so the schemas stay small. */

export const continuationIdField = z
  .string()
  .describe("Thread id from an earlier response; reuse the last one you got to continue that thread (any tool).");

export const temperatureField = z.number().min(0).max(1).describe("0 = deterministic, 1 = creative.");

export const thinkingModeField = z.enum(THINKING_MODES).describe("Reasoning depth (Gemini thinking budget).");

export const filesField = z
  .array(fileReference)
  .describe("Files for context: absolute paths (uploaded by the bridge), 'sha256:<hex>', or {path, content} inline.");

export const imagesField = z
  .array(z.string())
  .describe("Images: absolute paths or data:image/...;base64 URLs (vision models only).");
