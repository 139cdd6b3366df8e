import type { Context, MiddlewareHandler } from "hono";
import { configOf } from "../../core/config";
import type { AppBindings } from "../../core/env";
import { knownRefusal, largestGrant, takeOne, type Refusal } from "../../durable/rate-limits";
import { clientAddress } from "./client-address";

type AppContext = Context<AppBindings>;

function unreachable(c: AppContext, refusal: Refusal): Response {
  const message = `The rate limiter cannot be reached, so requests are refused for now. Retry in ${refusal.retryAfterSeconds} s.`;
  return c.json({ error: "rate_limiter_unavailable", message }, 503, { "retry-after": String(refusal.retryAfterSeconds) });
}

/**
 * Requests per minute per team (RATE_LIMIT_REQUESTS_PER_MINUTE) to /mcp, /v1/* and the status
 * page's team view: a bound against abuse, far above what sessions need (an MCP session's
 * handshake and lists are several requests). What costs, a tool call that reaches a model, has
 * its own limits (RATE_LIMIT_PER_MINUTE, RATE_LIMIT_PER_TOKEN_PER_MINUTE), charged by the MCP
 * layer. Counted by the team's request limiter, which grants an isolate a small batch at a time.
 * Over the bound the answer is 429 with Retry-After; while the limiter cannot be reached, past a
 * short grace, 503 with Retry-After.
 *
 * Not the Workers rate-limiting binding: its limit and period are fixed in wrangler.toml rather
 * than read from this configuration, it counts per Cloudflare location (approximately), and it
 * does not say when the next request may go, which Retry-After needs.
 */
export function rateLimit(): MiddlewareHandler<AppBindings> {
  return async (c, next) => {
    const perMinute = configOf(c.env).rateLimits.requestsPerMinute;
    if (perMinute === 0) return next();
    const team = c.get("team");
    // Team ids hold no colon: the name cannot clash with a team's own limiter.
    const budget = `requests:${team}`;
    const refusal = await takeOne(c.env, { allowance: budget, object: budget, limits: { perMinute }, most: largestGrant(perMinute) });
    if (!refusal) return next();
    if (refusal.limit === "unreachable") return unreachable(c, refusal);
    const message = `Team '${team}' has made its ${perMinute} requests of the minute (RATE_LIMIT_REQUESTS_PER_MINUTE). Retry in ${refusal.retryAfterSeconds} s.`;
    return c.json({ error: "rate_limited", message }, 429, { "retry-after": String(refusal.retryAfterSeconds) });
  };
}

/**
 * The budget of the request's client address, by the name of its RateLimiterDO and allowance
 * (one budget for requests without a client address). Team ids hold no colon: no clash.
 */
function addressBudget(c: AppContext): string {
  return `address:${clientAddress(c) ?? ""}`;
}

/**
 * Takes one request from the budget of the request's client address
 * (RATE_LIMIT_PER_ADDRESS_PER_MINUTE), which pays for what no token pays for: OAuth client
 * registrations and authorization pages, and failed authentications. Counted by the address's
 * RateLimiterDO (`address:<ip>`). A response when refused: 429, or 503 for an unreachable limiter.
 */
export async function takeForAddress(c: AppContext): Promise<Response | undefined> {
  const perMinute = configOf(c.env).rateLimits.addressPerMinute;
  if (perMinute === 0) return undefined;
  const budget = addressBudget(c);
  const refusal = await takeOne(c.env, { allowance: budget, object: budget, limits: { perMinute }, most: largestGrant(perMinute) });
  return refusal && tooManyFromAddress(c, refusal);
}

/** Whether this isolate knows the client address to be past its budget: refused without asking anything. */
export function refusedAddress(c: AppContext): Response | undefined {
  const refusal = knownRefusal(c.env, addressBudget(c));
  return refusal && tooManyFromAddress(c, refusal);
}

function tooManyFromAddress(c: AppContext, refusal: Refusal): Response {
  if (refusal.limit === "unreachable") return unreachable(c, refusal);
  const message =
    `This address has made its ${configOf(c.env).rateLimits.addressPerMinute} requests of the minute without a valid token ` +
    `(sign-in steps and failed authentications; RATE_LIMIT_PER_ADDRESS_PER_MINUTE). Retry in ${refusal.retryAfterSeconds} s.`;
  return c.json({ error: "rate_limited", message }, 429, { "retry-after": String(refusal.retryAfterSeconds) });
}

/** Middleware: each request is paid for by its client address's budget (takeForAddress). */
export function addressRateLimit(): MiddlewareHandler<AppBindings> {
  return async (c, next) => (await takeForAddress(c)) ?? next();
}
