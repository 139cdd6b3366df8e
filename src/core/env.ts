import type { BlobObject } from "./rpc/blob";
import type { BreakerObject } from "./rpc/breaker";
import type { ConversationObject } from "./rpc/conversation";
import type { RateLimiterObject } from "./rpc/rate-limiter";
import type { TeamObject } from "./rpc/team";

/** A text-generation call in Workers AI's messages form. */
export interface WorkersAiChatInput {
  messages: Array<{ role: "system" | "user"; content: string }>;
  /** Always sent: Workers AI's default of 256 tokens cuts most answers short. */
  max_tokens: number;
  temperature?: number;
  stream: boolean;
}

/** The part of the Workers AI binding the provider uses. */
export interface WorkersAiBinding {
  run(model: string, inputs: WorkersAiChatInput): Promise<unknown>;
}

/**
 * The Worker's bindings: Durable Objects, KV and R2 from wrangler.toml, and the configuration as
 * string vars and secrets (parsed and checked by src/core/config.ts and, for a provider's own,
 * by its descriptor in src/providers/; never read raw elsewhere).
 * Each Durable Object is typed by its contract (core/rpc/), which its class implements.
 */
export interface Env {
  CONVERSATIONS: DurableObjectNamespace<ConversationObject>;
  BREAKERS: DurableObjectNamespace<BreakerObject>;
  TEAMS: DurableObjectNamespace<TeamObject>;
  BLOBS: DurableObjectNamespace<BlobObject>;
  RATE_LIMITER: DurableObjectNamespace<RateLimiterObject>;
  /** Uploaded files' bytes, one object per upload that committed (the facts are in BLOBS). */
  BLOB_BUCKET: R2Bucket;
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
