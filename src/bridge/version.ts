/**
 * The bridge's name and version. Read from package.json at run time: Node cannot import JSON
 * without an import attribute, and the Worker's src/core/version.ts imports it the bundler's way.
 */
import { readFileSync } from "node:fs";

export const BRIDGE_NAME = "zen-mcp-worker-bridge";

function packageVersion(): string {
  try {
    const json: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    const version = typeof json === "object" && json !== null ? (json as Record<string, unknown>)["version"] : undefined;
    return typeof version === "string" ? version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}

export const BRIDGE_VERSION = packageVersion();
