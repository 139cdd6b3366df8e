/**
 * The project's worker with ConversationDO on the `agents` Agent base class (conversation-agent.ts),
 * everything else as src/worker.ts exports it. For bench/agents.ts only.
 */
export { default, BlobDO, ProviderBreakerDO, RateLimiterDO, TeamDO } from "../../src/worker.ts";
export { ConversationDO } from "./conversation-agent.ts";
