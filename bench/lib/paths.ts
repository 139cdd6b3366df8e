import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
export const PROJECT_CONFIG = resolve(ROOT, "wrangler.toml");
export const BASELINE_CONFIG = resolve(ROOT, "bench/baseline/wrangler.toml");
export const HARNESS_CONFIG = resolve(ROOT, "bench/harness/wrangler.toml");
/** The project with ConversationDO on the `agents` Agent base class (bench/agents.ts). */
export const AGENTS_CONFIG = resolve(ROOT, "bench/agents/wrangler.toml");
/** The project with `agents/mcp/server` swapped for the MCP SDK's own handler (bench/protocol-eras.ts). */
export const SDK_HANDLER_CONFIG = resolve(ROOT, "bench/sdk-handler/wrangler.toml");
/** The project with counting wrappers around its bindings and Durable Objects (bench/cost.ts). */
export const COST_CONFIG = resolve(ROOT, "bench/cost-harness/wrangler.toml");
