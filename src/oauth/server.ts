import { OAuthAuthorizationServer } from "@cloudflare/workers-oauth-provider";
import type { Env } from "../env";
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

/** A handful: the Host guard admits only loopback and ALLOWED_HOSTNAMES. */
const MAX_ORIGINS = 16;
const servers = new Map<string, OAuthAuthorizationServer<Env>>();

/**
 * The authorization server of one origin: its issuer and its resource are fixed when it is
 * built, and a deploy may answer on several hostnames (workers.dev and a custom domain), each
 * issuing tokens for its own /mcp only. Dynamic client registration, Client ID Metadata
 * Documents (a client named by the https URL of its metadata, fetched by the library; needs the
 * global_fetch_strictly_public flag), PKCE with S256, the `iss` of every authorization response
 * (RFC 9207) and tokens stored hashed in OAUTH_KV are the library's.
 */
export function authorizationServerFor(origin: string): OAuthAuthorizationServer<Env> {
  let server = servers.get(origin);
  if (!server) {
    if (servers.size >= MAX_ORIGINS) servers.clear();
    server = new OAuthAuthorizationServer<Env>({
      issuer: origin,
      resources: [mcpResource(origin)],
      authorizeEndpoint: AUTHORIZE_PATH,
      tokenEndpoint: TOKEN_PATH,
      clientRegistrationEndpoint: REGISTER_PATH,
      clientIdMetadataDocumentEnabled: true,
    });
    servers.set(origin, server);
  }
  return server;
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
