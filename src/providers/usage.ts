import { shiftDay, USAGE_RETENTION_DAYS, type UsageRow } from "../core/rpc/team";
import type { Env } from "../core/env";
import { tellTeam } from "../durable/team-activity";
import type { CallResult } from "./call";
import { shippedAsOf } from "./catalog";
import { currentCatalogState, type ModelCatalog } from "./model-catalog";

/** The team whose usage is recorded or read: the authenticated one, never a caller's argument. */
export interface UsageScope {
  env: Env;
  team: string;
  waitUntil(promise: Promise<unknown>): void;
}

/** How far back a usage report may look: as long as rows are kept. */
export const MAX_USAGE_DAYS = USAGE_RETENTION_DAYS;
export const DEFAULT_USAGE_DAYS = 7;

/** Where today's prices come from: the refreshed model catalog, or offline the shipped registry; and their date. */
export interface PriceSource {
  /** "catalog" or "shipped". */
  kind: "catalog" | "shipped";
  /** The catalog's URL, or the shipped registry's files. */
  source: string;
  /** YYYY-MM-DD: when the catalog was fetched, or when the shipped prices were checked (null when not recorded). */
  asOf: string | null;
}

export function priceSourceOf(catalog: ModelCatalog | null): PriceSource {
  if (catalog) return { kind: "catalog", source: catalog.source, asOf: catalog.fetchedAt.slice(0, 10) };
  return { kind: "shipped", source: "src/providers/models/*.json", asOf: shippedAsOf() };
}

export function priceNote(prices: PriceSource): string {
  const date = prices.asOf ? `as of ${prices.asOf}` : "undated";
  const from =
    prices.kind === "catalog"
      ? `the model catalog at ${prices.source}, ${date} (for a model it does not list, the shipped registry's price)`
      : `the shipped model registry, ${date} (no catalog refreshed yet)`;
  return (
    `Estimated cost at list prices from ${from}: USD per million tokens, standard tier, without cached-input or batch ` +
    "discounts, priced when each call was made; a model with no price in the registry has no cost (null). Calls that failed are not counted."
  );
}

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** What a call costs at its model's list prices; null when the registry has no price for it. */
export function estimatedCost(call: CallResult): number | null {
  const prices = call.model.capabilities.prices;
  if (!prices) return null;
  const { inputTokens, outputTokens } = call.response.usage;
  return (inputTokens * prices.inputPerMtok + outputTokens * prices.outputPerMtok) / 1_000_000;
}

/**
 * Adds a model call to the team's ledger in the background: the reply never waits for it. The
 * cost is priced now, so a later price change in the registry does not rewrite history.
 */
export function recordUsage(scope: UsageScope, call: CallResult): void {
  tellTeam(scope, {
    usage: {
      day: utcDay(Date.now()),
      provider: call.model.provider.id,
      model: call.model.capabilities.modelName,
      inputTokens: call.response.usage.inputTokens,
      outputTokens: call.response.usage.outputTokens,
      calls: 1,
      costUsd: estimatedCost(call),
    },
  });
}

export interface UsageTotals {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** The sum over rows with a price. */
  estimatedCostUsd: number;
  /** Models whose cost is unknown (no price in the registry), so the sum above leaves them out. */
  unpricedModels: string[];
}

export interface UsageReport {
  team: string;
  days: number;
  /** First and last UTC day of the window, YYYY-MM-DD. */
  from: string;
  to: string;
  rows: Array<Omit<UsageRow, "costUsd"> & { estimatedCostUsd: number | null }>;
  totals: UsageTotals;
  /** Where the prices of new calls come from, and their date. */
  prices: PriceSource;
  note: string;
}

/** Six decimals: cents of cents, without the float noise of many small additions. */
function roundUsd(value: number): number {
  return Math.round(value * 1_000_000) / 1_000_000;
}

/** The team's usage over the last `days` UTC days, today included. */
export async function readUsage(scope: Omit<UsageScope, "waitUntil">, days: number): Promise<UsageReport> {
  const to = utcDay(Date.now());
  const from = shiftDay(to, 1 - days);
  const stored = await scope.env.TEAMS.getByName(scope.team).usageSince(from);
  const unpriced = new Set(stored.filter((row) => row.costUsd === null).map((row) => `${row.provider}/${row.model}`));
  const totals: UsageTotals = {
    calls: stored.reduce((sum, row) => sum + row.calls, 0),
    inputTokens: stored.reduce((sum, row) => sum + row.inputTokens, 0),
    outputTokens: stored.reduce((sum, row) => sum + row.outputTokens, 0),
    estimatedCostUsd: roundUsd(stored.reduce((sum, row) => sum + (row.costUsd ?? 0), 0)),
    unpricedModels: [...unpriced].sort(),
  };
  const rows = stored.map(({ costUsd, ...row }) => ({ ...row, estimatedCostUsd: costUsd === null ? null : roundUsd(costUsd) }));
  const prices = priceSourceOf(currentCatalogState().catalog);
  return { team: scope.team, days, from, to, rows, totals, prices, note: priceNote(prices) };
}

/** What a team has spent at list prices (USD, calls without a price left out), by UTC day and month. */
export interface Spend {
  todayUsd: number;
  monthUsd: number;
}

/** The team's spend today and this month, UTC, from its ledger: one read of the team's object. */
export async function spendOf(scope: Omit<UsageScope, "waitUntil">, now = Date.now()): Promise<Spend> {
  const today = utcDay(now);
  const rows = await scope.env.TEAMS.getByName(scope.team).usageSince(`${today.slice(0, 8)}01`);
  const cost = (selected: UsageRow[]) => roundUsd(selected.reduce((sum, row) => sum + (row.costUsd ?? 0), 0));
  return { todayUsd: cost(rows.filter((row) => row.day === today)), monthUsd: cost(rows) };
}
