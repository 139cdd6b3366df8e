import { AuthorizationError, authorizationErrorRedirect, type AuthRequest, type OAuthHelpers } from "@cloudflare/workers-oauth-provider";
import { Hono, type Context, type Handler, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { configOf } from "../../core/config";
import type { AppBindings } from "../../core/env";
import { addressRateLimit } from "../middleware/rate-limit";
import { teamOfToken } from "../middleware/team-auth";
import { authorizationErrorPage, consentPage } from "./consent-page";
import {
  AUTHORIZE_PATH,
  authorizationServerFor,
  clientRegistrarFor,
  isMetadataDocumentClient,
  type GrantProps,
  MCP_PATH,
  mcpResource,
  publicOrigin,
  REGISTER_PATH,
  REGISTRATION_BODY_BYTES,
  RESOURCE_METADATA_PATH,
  SERVER_METADATA_PATH,
  TOKEN_PATH,
} from "./server";

type AppContext = Context<AppBindings>;

/**
 * OAuth 2.1 for MCP clients that sign in rather than send a team token (claude.ai connectors):
 * discovery documents, dynamic client registration, the token endpoint, and the consent page
 * where a person proves team membership with a team token. The grant carries the team, and its
 * access token then authenticates /mcp like a team token (src/routes/middleware/team-auth.ts).
 */
export const oauthRoutes = new Hono<AppBindings>();

/** Signing in proves a team with a team token, so it needs TEAM_TOKENS; and https off loopback. */
const oauthAvailable: MiddlewareHandler<AppBindings> = async (c, next) => {
  if (!configOf(c.env).teamTokens) {
    return c.json({ error: "not_found", message: "OAuth sign-in needs TEAM_TOKENS on this server: a person proves their team with a team token." }, 404);
  }
  const origin = publicOrigin(c.req.url);
  if (new URL(c.req.url).origin !== origin) {
    return c.json({ error: "https_required", message: `OAuth sign-in runs over https: use ${origin}.` }, 400);
  }
  await next();
};

/** RFC 9728 protected resource metadata, at the root (named in 401 challenges) and under /mcp. */
const protectedResourceMetadata: Handler<AppBindings> = (c) => {
  const origin = publicOrigin(c.req.url);
  return c.json({
    resource: mcpResource(origin),
    authorization_servers: [origin],
    bearer_methods_supported: ["header"],
    resource_name: "Zen MCP server",
  });
};
oauthRoutes.get(RESOURCE_METADATA_PATH, oauthAvailable, protectedResourceMetadata);
oauthRoutes.get(`${RESOURCE_METADATA_PATH}${MCP_PATH}`, oauthAvailable, protectedResourceMetadata);

/** Authorization server metadata, token (and revocation) and registration: the library's endpoints. */
const authorizationServer: Handler<AppBindings> = (c) =>
  // Hono types the runtime's ExecutionContext with fewer members; it is the same object.
  authorizationServerFor(publicOrigin(c.req.url)).fetch(c.req.raw, c.env, c.executionCtx as ExecutionContext);
const clientRegistrar: Handler<AppBindings> = (c) =>
  clientRegistrarFor(publicOrigin(c.req.url)).fetch(c.req.raw, c.env, c.executionCtx as ExecutionContext);
oauthRoutes.on(["GET", "OPTIONS"], SERVER_METADATA_PATH, oauthAvailable, authorizationServer);
oauthRoutes.all(TOKEN_PATH, oauthAvailable, authorizationServer);
// Anyone may register a client, so each registration is paid for by its client address and bounded.
oauthRoutes.all(
  REGISTER_PATH,
  oauthAvailable,
  addressRateLimit(),
  bodyLimit({
    maxSize: REGISTRATION_BODY_BYTES,
    onError: (c) =>
      c.json({ error: "invalid_client_metadata", error_description: `The registration is over ${REGISTRATION_BODY_BYTES} bytes.` }, 413),
  }),
  clientRegistrar,
);

/** 128 random bits, hex. */
function opaqueId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function helpersOf(c: AppContext): OAuthHelpers {
  return authorizationServerFor(publicOrigin(c.req.url)).getOAuthApi(c.env);
}

/**
 * The authorization request this URL carries, checked by the library (client, exact redirect
 * URI, resource, S256 for public clients), with PKCE required of every client. A request whose
 * client and redirect URI are verified is refused by redirecting back to the client; any other
 * is refused here.
 */
async function parseAuthorization(c: AppContext, oauth: OAuthHelpers): Promise<AuthRequest | Response> {
  let request: AuthRequest;
  try {
    request = await oauth.parseAuthRequest(c.req.raw);
  } catch (error) {
    if (!(error instanceof AuthorizationError)) throw error;
    return error.redirectTo ? c.redirect(error.redirectTo, 302) : c.html(authorizationErrorPage(error.description), 400);
  }
  if (!request.codeChallenge) {
    return c.redirect(authorizationErrorRedirect(request, "invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256."), 302);
  }
  return request;
}

/** The consent page for a request, bound to this browser by the library's cookie; not framable. */
async function showConsent(oauth: OAuthHelpers, request: AuthRequest, error?: string): Promise<Response> {
  const details = await oauth.describeConsent(request);
  const consent = await oauth.beginConsent(request);
  consent.headers.set("content-type", "text/html; charset=utf-8");
  const body = String(await consentPage(details, consent.handle, error));
  return new Response(body, { status: error ? 401 : 200, headers: consent.headers });
}

// Every authorization page stores a consent record, so each is paid for by its client address.
oauthRoutes.get(AUTHORIZE_PATH, oauthAvailable, addressRateLimit(), async (c) => {
  const oauth = helpersOf(c);
  const request = await parseAuthorization(c, oauth);
  return request instanceof Response ? request : showConsent(oauth, request);
});

oauthRoutes.post(
  AUTHORIZE_PATH,
  oauthAvailable,
  addressRateLimit(),
  bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.html(authorizationErrorPage("The form is too large."), 413) }),
  async (c) => {
    const oauth = helpersOf(c);
    const form = await c.req.parseBody();
    const handle = typeof form["handle"] === "string" ? form["handle"] : "";
    try {
      if (form["decision"] !== "approve") {
        const denied = await oauth.denyConsent(c.req.raw, handle);
        return new Response(null, { status: 302, headers: denied.headers });
      }
      const teamToken = typeof form["team_token"] === "string" ? form["team_token"].trim() : "";
      const caller = teamToken === "" ? undefined : await teamOfToken(teamToken, configOf(c.env).teamTokens ?? new Map());
      if (caller?.tokenDigest === undefined) {
        // Nothing was spent: show the form again, for the request this URL names.
        const request = await parseAuthorization(c, oauth);
        return request instanceof Response ? request : showConsent(oauth, request, "That team token is not valid on this server. Check it and try again.");
      }
      const approved = await oauth.approveConsent(c.req.raw, handle);
      const props: GrantProps = { team: caller.team, tokenDigest: caller.tokenDigest };
      const { redirectTo } = await oauth.completeAuthorization({
        request: approved.request,
        // Codes and tokens carry the user id: an opaque one, naming neither the team nor the team
        // token. A new one per sign-in, so there is no earlier grant of it to replace.
        userId: opaqueId(),
        revokeExistingGrants: false,
        metadata: { team: caller.team },
        scope: approved.request.scope,
        props,
      });
      // A registered client has signed someone in: it now lives as long as the sign-in, not an
      // hour. A client named by its metadata document's URL is stored by no one: its document is it.
      if (!isMetadataDocumentClient(approved.request.clientId)) await oauth.updateClient(approved.request.clientId, {});
      approved.headers.set("location", redirectTo);
      return new Response(null, { status: 302, headers: approved.headers });
    } catch (error) {
      // The form expired, was used already, or was opened in another browser.
      if (error instanceof AuthorizationError) return c.html(authorizationErrorPage(error.description), 400);
      throw error;
    }
  },
);
