import packageJson from "../../package.json";

export const SERVER_NAME = "zen-mcp-worker";
export const SERVER_VERSION: string = packageJson.version;
