import type { BlobDO } from "../durable/blob.ts";
import type { ConversationDO } from "../durable/conversation.ts";
import type { ProviderBreakerDO } from "../durable/breaker.ts";
import type { RateLimiterDO } from "../durable/rate-limiter.ts";
import type { TeamDO } from "../durable/team.ts";
import type { WorkersAiBinding } from "../providers/workers-ai.ts";

/**
 * The Worker's bindings: Durable Objects and KV from wrangler.toml, and the configuration as
 * string vars and secrets (parsed and checked by src/core/config.ts, never read raw elsewhere).
 */
export interface Env {
  CONVERSATIONS: DurableObjectNamespace<ConversationDO>;
  BREAKERS: DurableObjectNamespace<ProviderBreakerDO>;
  TEAMS: DurableObjectNamespace<TeamDO>;
  BLOBS: DurableObjectNamespace<BlobDO>;
  RATE_LIMITER: DurableObjectNamespace<RateLimiterDO>;
  CACHE: KVNamespace;
  /** Workers AI: bound only in deploy environments (`wrangler dev` offline cannot serve it). */
  AI?: WorkersAiBinding;
  /** OAuth clients, grants and tokens (stored hashed by @cloudflare/workers-oauth-provider). */
  OAUTH_KV: KVNamespace;
  [variable: string]: unknown;
}

/** Hono's generics for this app: bindings plus what middleware puts on the context. */
export interface AppBindings {
  Bindings: Env;
  Variables: {
    team: string;
    /** SHA-256 hex of the team token behind the request (sent directly or behind an OAuth grant); unset without one. */
    tokenDigest: string | undefined;
    requestId: string;
  };
}
