// A named import: the bundle then holds the version alone, not the whole package.json.
import { version } from "../../package.json";

export const SERVER_NAME = "zen-mcp-worker";
export const SERVER_VERSION: string = version;
