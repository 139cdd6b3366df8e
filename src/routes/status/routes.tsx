import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { NONCE, secureHeaders } from "hono/secure-headers";
import { configOf } from "../../core/config";
import type { AppBindings } from "../../core/env";
import { rateLimit } from "../middleware/rate-limit";
import { callerOf } from "../middleware/team-auth";
import { registryFor } from "../../providers/registry";
import { healthOf, loadTeamStatus, loadTeamThread } from "./data";
import { MissingThreadPage, PublicPage, TeamPage, ThreadPage } from "./page";

type StatusContext = Context<AppBindings>;

/**
 * The status page: `/` shows anyone the server's health and version; a team (its token entered
 * once in the page's form, or no token needed on a local server without TEAM_TOKENS) sees its
 * providers' breakers, the models, the caches, its threads (`/threads/:id` shows one) and its usage.
 */
export const statusRoutes = new Hono<AppBindings>();

/**
 * The browser session: the team token in an HttpOnly, SameSite=Strict cookie with no expiry,
 * verified on every request as a bearer token is. Over https it is `__Host-` prefixed (Secure,
 * Path=/, no Domain), so no other host can plant or read it.
 */
const SESSION_COOKIE = "zen_session";

function isHttps(c: StatusContext): boolean {
  return new URL(c.req.url).protocol === "https:";
}

function sessionToken(c: StatusContext): string | undefined {
  return isHttps(c) ? getCookie(c, SESSION_COOKIE, "host") : getCookie(c, SESSION_COOKIE);
}

function startSession(c: StatusContext, token: string): void {
  const options = { httpOnly: true, sameSite: "Strict", path: "/" } as const;
  if (isHttps(c)) setCookie(c, SESSION_COOKIE, token, { ...options, secure: true, prefix: "host" });
  else setCookie(c, SESSION_COOKIE, token, options);
}

function endSession(c: StatusContext): void {
  if (isHttps(c)) deleteCookie(c, SESSION_COOKIE, { path: "/", secure: true, prefix: "host" });
  else deleteCookie(c, SESSION_COOKIE, { path: "/" });
}

/** No script, no frame, no asset from anywhere: only this page's own styles and forms. Never cached. */
const secure = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    styleSrc: [NONCE],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  },
  xFrameOptions: "DENY",
  // Not no-referrer: under it a browser sends `Origin: null` with a form post, which the
  // Host/Origin guard refuses; same-origin sends the page's origin to itself and nothing elsewhere.
  referrerPolicy: "same-origin",
});
const pageHeaders: MiddlewareHandler<AppBindings> = async (c, next) => {
  await secure(c, next);
  c.header("cache-control", "no-store");
};

/**
 * The team a page is for: the session's token (or a bearer header) checked as /v1 checks a
 * bearer token, and rate limited as /v1 is. Without one the public view answers instead,
 * with `error` (and 401) where the page needs a team.
 */
function forTeam(error?: string): MiddlewareHandler<AppBindings> {
  return async (c, next) => {
    const caller = await callerOf(c, sessionToken(c));
    if (!caller) return anonymous(c, error);
    c.set("team", caller.team);
    c.set("tokenDigest", caller.tokenDigest);
    return rateLimit()(c, next);
  };
}

const sameOriginCheck = csrf();

/**
 * Sign-in and sign-out are form posts from this page: a post from another site, or another
 * origin on the same machine, is refused (it could sign a browser in as someone else's team).
 */
const sameOriginForm: MiddlewareHandler<AppBindings> = async (c, next) => {
  try {
    await sameOriginCheck(c, async () => undefined);
  } catch (error) {
    if (!(error instanceof HTTPException)) throw error;
    return c.html(publicPage(c, { error: "This form was sent from another site, so it was refused. Open this page and use its form." }), 403);
  }
  await next();
};

function publicPage(c: StatusContext, messages: { error?: string; notice?: string } = {}) {
  return (
    <PublicPage
      health={healthOf(registryFor(c.env))}
      nonce={c.get("secureHeadersNonce")}
      signIn={configOf(c.env).teamTokens !== null}
      {...messages}
    />
  );
}

/** The public view; a session whose token is no longer listed (rotated out) is ended and told so. */
function anonymous(c: StatusContext, error?: string) {
  const status = error ? 401 : 200;
  if (sessionToken(c) === undefined) return c.html(publicPage(c, error ? { error } : {}), status);
  endSession(c);
  return c.html(publicPage(c, { notice: "Your session's team token is no longer valid here. Sign in again.", ...(error ? { error } : {}) }), status);
}

/** Signed in through this page (and so able to sign out), rather than served without a token. */
function signedIn(c: StatusContext): boolean {
  return c.get("tokenDigest") !== undefined && sessionToken(c) !== undefined;
}

function pageScope(c: StatusContext) {
  return { env: c.env, config: configOf(c.env), team: c.get("team"), waitUntil: (promise: Promise<unknown>) => c.executionCtx.waitUntil(promise) };
}

statusRoutes.get("/", pageHeaders, forTeam(), async (c) => {
  const status = await loadTeamStatus(pageScope(c));
  return c.html(<TeamPage status={status} nonce={c.get("secureHeadersNonce")} signedIn={signedIn(c)} now={Date.now()} />);
});

statusRoutes.get("/threads/:id", pageHeaders, forTeam("Sign in with your team token to see this thread."), async (c) => {
  const thread = await loadTeamThread(pageScope(c), c.req.param("id"));
  const nonce = c.get("secureHeadersNonce");
  if (!thread) return c.html(<MissingThreadPage team={c.get("team")} nonce={nonce} signedIn={signedIn(c)} />, 404);
  return c.html(<ThreadPage thread={thread} nonce={nonce} signedIn={signedIn(c)} />);
});

statusRoutes.post(
  "/",
  pageHeaders,
  sameOriginForm,
  bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.html(publicPage(c, { error: "The form is too large." }), 413) }),
  async (c) => {
    // Without TEAM_TOKENS there is nothing to sign in to: the page is open (loopback) or locked.
    if (!configOf(c.env).teamTokens) return c.redirect("/", 303);
    const form = await c.req.parseBody();
    const token = typeof form["team_token"] === "string" ? form["team_token"].trim() : "";
    if (token === "") return c.html(publicPage(c, { error: "Enter your team token." }), 400);
    const caller = await callerOf(c, token);
    if (!caller) return c.html(publicPage(c, { error: "That team token is not valid on this server. Check it and try again." }), 401);
    startSession(c, token);
    return c.redirect("/", 303);
  },
);

statusRoutes.post("/sign-out", pageHeaders, sameOriginForm, (c) => {
  endSession(c);
  return c.redirect("/", 303);
});
