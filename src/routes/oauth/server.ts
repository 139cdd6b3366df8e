import {
  OAuthAuthorizationServer,
  OAuthError,
  type ClientRegistrationCallbackOptions,
  type ClientRegistrationCallbackResult,
  type OAuthAuthorizationServerOptions,
  type TokenExchangeCallbackOptions,
} from "@cloudflare/workers-oauth-provider";
import { configOf } from "../../core/config";
import type { Env } from "../../core/env";
import { isLoopback } from "../middleware/host-origin";

export const MCP_PATH = "/mcp";
export const AUTHORIZE_PATH = "/authorize";
export const TOKEN_PATH = "/oauth/token";
export const REGISTER_PATH = "/oauth/register";
export const RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource";
export const SERVER_METADATA_PATH = "/.well-known/oauth-authorization-server";

/** What a grant carries: the team, and the team token that proved membership (by its digest). */
export interface GrantProps {
  team: string;
  tokenDigest: string;
}

/**
 * The origin this server is known by. Workers are served over https and OAuth allows plain http
 * only on loopback (wrangler dev), so any other host is named with https.
 */
export function publicOrigin(requestUrl: string): string {
  const url = new URL(requestUrl);
  return isLoopback(url.hostname) ? url.origin : `https://${url.host}`;
}

/** The one protected resource: the MCP endpoint. Access tokens are bound to it. */
export function mcpResource(origin: string): string {
  return `${origin}${MCP_PATH}`;
}

/** A sign-in's lifetime: its refresh token's, and its client's, renewed while the client uses them. */
const SIGNED_IN_TTL_SECONDS = 30 * 24 * 60 * 60;
/**
 * A registered client that has not completed a sign-in is gone after this long: registration is
 * open to anyone (rate limited per address), so what it stores must not outlive the sign-in.
 */
const UNUSED_CLIENT_TTL_SECONDS = 60 * 60;

/** Registration bounds: the request body, and the fields the library stores from it. */
export const REGISTRATION_BODY_BYTES = 16 * 1024;
const MAX_REGISTRATION_LIST = 10;
const MAX_REGISTRATION_STRING = 2_000;
const MAX_CLIENT_NAME = 200;

/**
 * Refuses client metadata past the bounds, naming the field: at most 10 entries in a list
 * (redirect_uris, contacts...), 2,000 characters in a string (a URI), 200 in client_name.
 */
function checkClientMetadata({ clientMetadata }: ClientRegistrationCallbackOptions): ClientRegistrationCallbackResult | undefined {
  for (const [field, value] of Object.entries(clientMetadata)) {
    const limit = field === "client_name" ? MAX_CLIENT_NAME : MAX_REGISTRATION_STRING;
    const values = Array.isArray(value) ? value : [value];
    if (values.length > MAX_REGISTRATION_LIST) return { description: `${field} may list at most ${MAX_REGISTRATION_LIST} entries.` };
    if (values.some((item) => typeof item === "string" && item.length > limit)) return { description: `${field} may be at most ${limit} characters long.` };
  }
  return undefined;
}

/**
 * Whether a grant's team token is still listed in TEAM_TOKENS for the same team: removing a
 * token (or moving it to another team) ends the sign-ins made with it.
 */
export function isGrantCurrent(env: Env, grant: GrantProps): boolean {
  return configOf(env).teamTokens?.get(grant.tokenDigest) === grant.team;
}

/** No token is minted, by a code exchange or a refresh, for a grant whose team token was removed. */
function refuseRemovedTokens({ props, env }: TokenExchangeCallbackOptions<Env>): undefined {
  if (isGrantProps(props) && isGrantCurrent(env, props)) return undefined;
  // invalid_grant also makes the library revoke the grant.
  throw new OAuthError("invalid_grant", { description: "The team token this sign-in was made with is no longer valid on this server: sign in again." });
}

/** A handful: the Host guard admits only loopback and ALLOWED_HOSTNAMES. */
const MAX_ORIGINS = 16;

/**
 * The two faces of one origin's authorization server, which differ only in the lifetime of the
 * clients they register: `registrar` serves dynamic registration, whose clients last an hour
 * unless a sign-in completes; `server` everything else, and gives a client that signs in the
 * lifetime of its sign-in.
 */
interface OriginServers {
  server: OAuthAuthorizationServer<Env>;
  registrar: OAuthAuthorizationServer<Env>;
}
const servers = new Map<string, OriginServers>();

function originServers(origin: string): OriginServers {
  let built = servers.get(origin);
  if (!built) {
    if (servers.size >= MAX_ORIGINS) servers.clear();
    const options: OAuthAuthorizationServerOptions<Env> = {
      issuer: origin,
      resources: [mcpResource(origin)],
      authorizeEndpoint: AUTHORIZE_PATH,
      tokenEndpoint: TOKEN_PATH,
      clientRegistrationEndpoint: REGISTER_PATH,
      clientIdMetadataDocumentEnabled: true,
      refreshTokenTTL: SIGNED_IN_TTL_SECONDS,
      clientRegistrationTTL: SIGNED_IN_TTL_SECONDS,
      clientRegistrationCallback: checkClientMetadata,
      tokenExchangeCallback: refuseRemovedTokens,
    };
    built = {
      server: new OAuthAuthorizationServer<Env>(options),
      registrar: new OAuthAuthorizationServer<Env>({ ...options, clientRegistrationTTL: UNUSED_CLIENT_TTL_SECONDS }),
    };
    servers.set(origin, built);
  }
  return built;
}

/**
 * The authorization server of one origin: its issuer and its resource are fixed when it is
 * built, and a deploy may answer on several hostnames (workers.dev and a custom domain), each
 * issuing tokens for its own /mcp only. PKCE with S256, tokens stored hashed in OAUTH_KV, the
 * `iss` of every authorization response (RFC 9207) and Client ID Metadata Documents (a client
 * named by the https URL of its metadata, which the library fetches; it needs the
 * global_fetch_strictly_public flag) are the library's; so is dynamic client registration,
 * served by `clientRegistrarFor`.
 */
export function authorizationServerFor(origin: string): OAuthAuthorizationServer<Env> {
  return originServers(origin).server;
}

/** The same server registering clients with the short lifetime of a client that has not signed in. */
export function clientRegistrarFor(origin: string): OAuthAuthorizationServer<Env> {
  return originServers(origin).registrar;
}

/** A client named by the https URL of its Client ID Metadata Document (a registered one has an opaque id). */
export function isMetadataDocumentClient(clientId: string): boolean {
  return URL.canParse(clientId) && new URL(clientId).protocol === "https:";
}

function isGrantProps(props: unknown): props is GrantProps {
  const record = props as Partial<GrantProps> | null;
  return typeof record?.team === "string" && typeof record.tokenDigest === "string";
}

/**
 * The grant behind an OAuth access token presented at this origin's /mcp: undefined when the
 * token is unknown, expired, or bound to another resource (another origin's /mcp).
 */
export async function grantOfAccessToken(env: Env, origin: string, token: string): Promise<GrantProps | undefined> {
  const validated = await authorizationServerFor(origin).validateToken<unknown>(mcpResource(origin), token, env);
  return validated && isGrantProps(validated.props) ? validated.props : undefined;
}
