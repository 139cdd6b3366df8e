import type { Config } from "../core/config";
import { ToolError } from "../core/errors";
import type { Env } from "../core/env";
import { largestGrant, takeOne } from "../durable/rate-limits";

/**
 * Takes one tool call that reaches a model from the team's model-call limits: RATE_LIMIT_PER_MINUTE
 * for the team and RATE_LIMIT_PER_TOKEN_PER_MINUTE for the team token behind the request, counted
 * by the team's RateLimiterDO. What costs money is what these count; requests of every kind have
 * their own, far higher bound at the routes. A refusal is a ToolError naming the limit and when
 * to retry: the tool answers it as an isError result, and no model is called.
 */
export async function chargeModelCall(deps: { env: Env; config: Config; team: string; tokenDigest: string | undefined }): Promise<void> {
  const { teamPerMinute, tokenPerMinute } = deps.config.rateLimits;
  const tokenLimited = deps.tokenDigest !== undefined && tokenPerMinute > 0;
  if (teamPerMinute === 0 && !tokenLimited) return;
  const refusal = await takeOne(deps.env, {
    allowance: `${deps.team}:${deps.tokenDigest ?? ""}`,
    object: deps.team,
    limits: { perMinute: teamPerMinute, ...(tokenLimited ? { token: { digest: deps.tokenDigest as string, perMinute: tokenPerMinute } } : {}) },
    most: largestGrant(teamPerMinute, tokenLimited ? tokenPerMinute : 0),
  });
  if (!refusal) return;
  const retry = `Retry in ${refusal.retryAfterSeconds} s.`;
  if (refusal.limit === "unreachable") throw new ToolError(`The rate limiter cannot be reached, so model calls are refused for now. ${retry}`);
  throw new ToolError(
    refusal.limit === "own"
      ? `Team '${deps.team}' has made its ${teamPerMinute} model calls of the minute (RATE_LIMIT_PER_MINUTE). No model was called. ${retry}`
      : `This token has made its ${tokenPerMinute} model calls of the minute (RATE_LIMIT_PER_TOKEN_PER_MINUTE). No model was called. ${retry}`,
  );
}
