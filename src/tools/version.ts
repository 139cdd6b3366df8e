import { SERVER_NAME, SERVER_VERSION } from "../core/version";
import { defineTool } from "./define";
import { jsonResult, toolOutput } from "./engine/envelope";

export const version = defineTool({
  name: "version",
  title: "Server version",
  description: "Show this server's version, its configured providers and how many models are available.",
  input: {},
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(_args, { registry, config, team }) {
    const providers = registry.providers.map((p) => p.id);
    const content = [
      `# ${SERVER_NAME} ${SERVER_VERSION}`,
      "",
      `- Version: ${SERVER_VERSION}`,
      `- Team: ${team}${config.teamTokens ? "" : " (single-team mode: TEAM_TOKENS is not set)"}`,
      `- Model selection: ${registry.autoMode ? "auto" : `default model '${config.defaultModel}'`}`,
      `- Providers configured: ${providers.length > 0 ? providers.join(", ") : "none"}`,
      `- Models available: ${registry.available().length}`,
    ].join("\n");
    const output = toolOutput({
      status: "success",
      content,
      content_type: "markdown",
      metadata: { tool_name: "version", server_version: SERVER_VERSION, providers, available_models: registry.available().length },
    });
    return jsonResult(output);
  },
});
