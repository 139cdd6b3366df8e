import type { Context, MiddlewareHandler } from "hono";
import { configOf } from "../../core/config";
import type { AppBindings } from "../../core/env";
import { grantOfAccessToken, isGrantCurrent, publicOrigin, RESOURCE_METADATA_PATH } from "../oauth/server";
import { isLoopbackConnection } from "./client-address";
import { isLoopback, requestHostname } from "./host-origin";
import { refusedAddress, takeForAddress } from "./rate-limit";

type AppContext = Context<AppBindings>;

/** Who a request acts for: a team, and the team token behind it when there is one. */
export interface Caller {
  team: string;
  tokenDigest?: string;
}

const encoder = new TextEncoder();

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

/**
 * The team a bearer token belongs to. TEAM_TOKENS stores only SHA-256 digests of tokens; every
 * digest is compared in constant time, and all of them are compared, so timing reveals nothing.
 */
export async function teamOfToken(token: string, tokens: ReadonlyMap<string, string>): Promise<Caller | undefined> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(token)));
  let team: string | undefined;
  for (const [hash, id] of tokens) {
    if (crypto.subtle.timingSafeEqual(digest, hexToBytes(hash))) team ??= id;
  }
  return team === undefined ? undefined : { team, tokenDigest: toHex(digest) };
}

/**
 * How a request is served:
 * - "tokens": TEAM_TOKENS is set; every request needs a team token (at /mcp, or an OAuth access token).
 * - "open": no TEAM_TOKENS and a request from this machine to a loopback host (a local server),
 *   or ALLOW_UNAUTHENTICATED=true: the single team "default", no token. The connection decides,
 *   not the Host header alone, which any client (or a proxy) can set to 127.0.0.1.
 * - "locked": no TEAM_TOKENS and any other request: refused, since anyone who finds it could use it.
 */
function accessMode(c: AppContext): "tokens" | "open" | "locked" {
  const config = configOf(c.env);
  if (config.teamTokens) return "tokens";
  return config.allowUnauthenticated || (isLoopbackConnection(c) && isLoopback(requestHostname(c))) ? "open" : "locked";
}

const LOCKED_MESSAGE =
  "This server has no TEAM_TOKENS, so it answers only requests from its own machine to a loopback host (127.0.0.1, localhost, [::1]). " +
  "An admin makes a token with `npm run token -- <team>`, adds the entry it prints to TEAM_TOKENS " +
  "(`npx wrangler secret put TEAM_TOKENS`), and clients send 'Authorization: Bearer <token>'. " +
  "To serve everyone without a token instead, set ALLOW_UNAUTHENTICATED=true.";

interface Refusal {
  message: string;
  /** A token was presented and is not valid (RFC 6750 error="invalid_token"). */
  invalidToken: boolean;
}

/** Refused without a verdict on the token: its client address is past its budget (the 429 to send). */
interface AddressRefusal {
  response: Response;
}

/** The bearer token of the Authorization header; null when the header is there but malformed. */
function bearerToken(c: AppContext): string | undefined | null {
  const header = c.req.header("authorization");
  if (header === undefined) return undefined;
  return /^Bearer[\t ]+([^\s,]+)$/i.exec(header)?.[1] ?? null;
}

/**
 * Authenticates a request: a team token, or where `acceptOAuth` (the MCP endpoint, the resource
 * OAuth tokens are issued for) an OAuth access token whose grant's team token is still listed
 * for the same team, so removing a token from TEAM_TOKENS also ends the sign-ins made with it.
 * A token that is not valid is paid for by the client address's budget; an address past it is
 * refused before its token is even looked at, so tokens cannot be guessed faster than that.
 */
async function authenticate(c: AppContext, acceptOAuth: boolean, token = bearerToken(c)): Promise<Caller | Refusal | AddressRefusal> {
  const mode = accessMode(c);
  if (mode === "open") return { team: "default" };
  if (mode === "locked") return { message: LOCKED_MESSAGE, invalidToken: false };
  const tokens = configOf(c.env).teamTokens ?? new Map<string, string>();
  if (token === undefined) {
    const oauthHint = acceptOAuth ? " MCP clients that support OAuth (such as claude.ai connectors) can sign in instead." : "";
    return { message: `This server requires 'Authorization: Bearer <team token>'. Ask your admin for a token.${oauthHint}`, invalidToken: false };
  }
  if (token === null) return { message: "The Authorization header must be 'Bearer <token>'.", invalidToken: false };
  const refused = refusedAddress(c);
  if (refused) return { response: refused };
  const caller = await teamOfToken(token, tokens);
  if (caller) return caller;
  if (acceptOAuth) {
    const grant = await grantOfAccessToken(c.env, publicOrigin(c.req.url), token);
    if (grant && isGrantCurrent(c.env, grant)) return grant;
  }
  const limited = await takeForAddress(c);
  if (limited) return { response: limited };
  return { message: "The bearer token is not valid for this server.", invalidToken: true };
}

function isCaller(result: Caller | Refusal | AddressRefusal): result is Caller {
  return "team" in result;
}

/**
 * The caller a request authenticates as with a team token (or none needed), if any: for optional
 * detail. The token is the Authorization header's, or one the request carries another way (the
 * status page's session cookie), checked the same way.
 */
export async function callerOf(c: AppContext, token?: string): Promise<Caller | undefined> {
  const result = await authenticate(c, false, token ?? bearerToken(c));
  return isCaller(result) ? result : undefined;
}

/**
 * 401 with a JSON message. Where OAuth tokens are accepted the challenge names the protected
 * resource metadata (RFC 9728), from which MCP clients find the authorization server.
 */
function unauthorized(c: AppContext, refusal: Refusal, acceptOAuth: boolean): Response {
  let challenge = 'Bearer realm="zen-mcp-worker"';
  if (acceptOAuth) challenge += `, resource_metadata="${publicOrigin(c.req.url)}${RESOURCE_METADATA_PATH}"`;
  if (refusal.invalidToken) challenge += ', error="invalid_token"';
  return c.json({ error: "unauthorized", message: refusal.message }, 401, { "www-authenticate": challenge });
}

/** Without TEAM_TOKENS, a request that is not local gets only the bare /health. */
export function refuseWhenLocked(): MiddlewareHandler<AppBindings> {
  return async (c, next) => {
    if (accessMode(c) === "locked" && c.req.path !== "/health") {
      return unauthorized(c, { message: LOCKED_MESSAGE, invalidToken: false }, false);
    }
    await next();
  };
}

let announcedSingleTeam = false;

/** Puts the caller's team (and token digest) on the context, or answers 401 (429 for an address past its budget). */
export function teamAuth(options: { acceptOAuth: boolean }): MiddlewareHandler<AppBindings> {
  return async (c, next) => {
    const result = await authenticate(c, options.acceptOAuth);
    if ("response" in result) return result.response;
    if (!isCaller(result)) return unauthorized(c, result, options.acceptOAuth);
    if (result.tokenDigest === undefined && !announcedSingleTeam) {
      announcedSingleTeam = true;
      console.warn("TEAM_TOKENS is not set: serving the single team 'default' without authentication.");
    }
    c.set("team", result.team);
    c.set("tokenDigest", result.tokenDigest);
    await next();
  };
}
