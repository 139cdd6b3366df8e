import type { Config } from "../core/config";
import { ToolError } from "../core/errors";
import type { Env } from "../core/env";
import { largestGrant, takeOne } from "../durable/rate-limits";
import { spendOf } from "../providers/usage";

type LimitDeps = { env: Env; config: Config; team: string; tokenDigest: string | undefined };

/**
 * What a tool call must pass before its first model call: the team's budgets, then its model-call
 * limits. A refusal is a ToolError saying which and when it lifts: the tool answers it as an
 * isError result, and no model is called.
 */
export async function chargeModelCall(deps: LimitDeps): Promise<void> {
  await checkBudgets(deps);
  await takeModelCall(deps);
}

/** Dollars to the cent, or to the millionth below a dollar (a call can cost a thousandth of a cent). */
function usd(amount: number): string {
  return `$${amount >= 1 ? amount.toFixed(2) : amount.toFixed(6).replace(/\.?0+$/, "")}`;
}

/** "in 3 h 12 min" until `at`. */
function inTime(at: number, now: number): string {
  const minutes = Math.max(1, Math.ceil((at - now) / 60_000));
  return minutes < 60 ? `in ${minutes} min` : `in ${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/**
 * TEAM_BUDGET_USD_PER_DAY and TEAM_BUDGET_USD_PER_MONTH: a team that has spent its budget (at list
 * prices, from its usage ledger, UTC days and months) calls no model until it resets. The ledger is
 * told of calls in batches (a quarter second), so concurrent calls may pass a budget by what they
 * cost together. Without a budget nothing is read.
 */
async function checkBudgets(deps: LimitDeps): Promise<void> {
  const { usdPerDay, usdPerMonth } = deps.config.budgets;
  if (usdPerDay === null && usdPerMonth === null) return;
  const now = Date.now();
  const spend = await spendOf(deps, now);
  const date = new Date(now);
  if (usdPerDay !== null && spend.todayUsd >= usdPerDay) {
    const reset = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1);
    throw new ToolError(
      `Team '${deps.team}' has spent ${usd(spend.todayUsd)} today of its daily budget of ${usd(usdPerDay)} ` +
        `(TEAM_BUDGET_USD_PER_DAY, at list prices). No model was called. It resets at 00:00 UTC, ${inTime(reset, now)}.`,
    );
  }
  if (usdPerMonth !== null && spend.monthUsd >= usdPerMonth) {
    const reset = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
    throw new ToolError(
      `Team '${deps.team}' has spent ${usd(spend.monthUsd)} this month of its monthly budget of ${usd(usdPerMonth)} ` +
        `(TEAM_BUDGET_USD_PER_MONTH, at list prices). No model was called. It resets on the 1st at 00:00 UTC, ${inTime(reset, now)}.`,
    );
  }
}

/**
 * Takes one tool call that reaches a model from the team's model-call limits: RATE_LIMIT_PER_MINUTE
 * for the team and RATE_LIMIT_PER_TOKEN_PER_MINUTE for the team token behind the request, counted
 * by the team's RateLimiterDO. What costs money is what these count; requests of every kind have
 * their own, far higher bound at the routes.
 */
async function takeModelCall(deps: LimitDeps): Promise<void> {
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
