import type { MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { configOf } from "../config";
import type { AppBindings } from "../env";

const encoder = new TextEncoder();

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

/**
 * The team a bearer token belongs to. TEAM_TOKENS stores only SHA-256 digests of tokens; every
 * digest is compared in constant time, and all of them are compared, so timing reveals nothing.
 */
export async function teamOfToken(token: string, tokens: ReadonlyMap<string, string>): Promise<string | undefined> {
  const digest = await sha256(token);
  let team: string | undefined;
  for (const [hash, id] of tokens) {
    if (crypto.subtle.timingSafeEqual(digest, hexToBytes(hash))) team ??= id;
  }
  return team;
}

let announcedSingleTeam = false;

/**
 * Puts the caller's team on the context. With TEAM_TOKENS set every request needs a valid
 * `Authorization: Bearer` token (localhost too) and gets 401 with WWW-Authenticate otherwise;
 * without it the server serves the single team "default".
 */
export function teamAuth(): MiddlewareHandler<AppBindings> {
  const requireToken = bearerAuth<AppBindings>({
    realm: "zen-mcp-worker",
    async verifyToken(token, c) {
      const tokens = configOf(c.env).teamTokens;
      const team = tokens ? await teamOfToken(token, tokens) : undefined;
      if (team) c.set("team", team);
      return team !== undefined;
    },
    noAuthenticationHeader: {
      message: { error: "unauthorized", message: "This server requires 'Authorization: Bearer <team token>'. Ask your admin for a token." },
    },
    invalidAuthenticationHeader: {
      message: { error: "unauthorized", message: "The Authorization header must be 'Bearer <team token>'." },
    },
    invalidToken: { message: { error: "unauthorized", message: "The bearer token is not valid for this server." } },
  });
  return async (c, next) => {
    if (configOf(c.env).teamTokens) return requireToken(c, next);
    if (!announcedSingleTeam) {
      announcedSingleTeam = true;
      console.warn("TEAM_TOKENS is not set: serving the single team 'default' without authentication.");
    }
    c.set("team", "default");
    await next();
  };
}
