import { configOf, type Config } from "../../core/config";
import { loadThread, listThreads, type ThreadScope } from "../../conversation/threads";
import type { Thread } from "../../core/rpc/conversation";
import type { BreakerSnapshot, BreakerState } from "../../core/rpc/breaker";
import type { ThreadSummary } from "../../core/rpc/team";
import { ToolError } from "../../core/errors";
import { cacheStats } from "../../kv-cache/cache";
import { breakerName, ProviderBreakers } from "../../providers/breaker";
import { capabilityRank } from "../../providers/capabilities";
import { shippedAsOf } from "../../providers/catalog";
import { catalogStatusOf, currentCatalogState, describeCatalog } from "../../providers/model-catalog";
import type { ResolvedModel } from "../../providers/descriptor";
import { NO_PROVIDER_MESSAGE, registryFor, type ModelRegistry } from "../../providers/registry";
import type { ProviderId } from "../../providers/types";
import { readUsage, spendOf, type Spend, type UsageReport } from "../../providers/usage";
import { SERVER_NAME, SERVER_VERSION } from "../../core/version";

/** What anyone may see: the server is up (and has a provider), and its version. */
export interface Health {
  status: "ok" | "no_provider";
  version: string;
}

export function healthOf(registry: ModelRegistry): Health {
  return { status: registry.providers.length > 0 ? "ok" : "no_provider", version: SERVER_VERSION };
}

/** What /health tells a caller who may use the server: the mode, the providers (names only), the caches. */
export function healthDetails(config: Config, registry: ModelRegistry) {
  const providers = registry.providers.map((provider) => provider.id);
  return {
    ...healthOf(registry),
    name: SERVER_NAME,
    teams: config.teamTokens
      ? "multi-team (TEAM_TOKENS)"
      : config.allowUnauthenticated
        ? "single team 'default', unauthenticated (ALLOW_UNAUTHENTICATED=true)"
        : "single team 'default' on loopback (TEAM_TOKENS not set)",
    providers,
    models: registry.available().length,
    catalog: catalogStatusOf(currentCatalogState()),
    ...(providers.length === 0 ? { message: NO_PROVIDER_MESSAGE } : {}),
    caches: cacheStats(),
  };
}

/**
 * One circuit breaker of a provider, or several of a provider that has one per model (OpenRouter,
 * the custom endpoint) whose state is the same: `models` names what goes through it.
 */
export interface BreakerRow {
  provider: ProviderId;
  /** "all models", a model name, or "N models" for the closed per-model breakers taken together. */
  models: string;
  state: BreakerState;
  failures: number;
  /** When an open breaker admits a probe; absent when closed. */
  retryAt?: number;
}

export interface ModelRow {
  name: string;
  provider: ProviderId;
  contextWindow: number;
  score: number;
  aliases: string[];
}

export interface CacheRow {
  name: string;
  memoryHits: number;
  kvHits: number;
  misses: number;
  entries: number;
  /** Hits over lookups; null before the first lookup. */
  hitRate: number | null;
}

export interface TeamStatus {
  team: string;
  health: Health;
  breakers: BreakerRow[];
  /** Configured providers that have no model left after their allow-list, so no breaker either. */
  providersWithoutModels: ProviderId[];
  models: ModelRow[];
  /** The model catalog in one sentence: its source and age, or that none was refreshed yet; a failed last refresh. */
  catalog: string;
  caches: CacheRow[];
  threads: ThreadSummary[];
  usage: UsageReport;
  /** The team's spend against its budgets, when the deploy sets any. */
  budget: { spend: Spend; usdPerDay: number | null; usdPerMonth: number | null } | null;
}

/** How many threads and days of usage the status page shows. */
export const STATUS_THREADS = 20;
export const STATUS_USAGE_DAYS = 14;

/** Every model a provider serves by name here, the custom endpoint's configured one included. */
function modelsOf(registry: ModelRegistry, providerId: ProviderId): ResolvedModel[] {
  const provider = registry.providers.find((p) => p.id === providerId);
  if (!provider) return [];
  const models: ResolvedModel[] = registry.modelsOf(providerId).map((capabilities) => ({ capabilities, provider, requestedName: capabilities.modelName }));
  const configured = provider.modelName ? registry.tryResolve(provider.modelName) : undefined;
  if (configured?.provider.id === providerId) models.push(configured);
  return models;
}

/**
 * The team's breakers as this isolate sees them (what its calls go by): one row for a provider
 * with one breaker; for a provider with a breaker per model, a row per model whose breaker is not
 * closed and one for the closed rest.
 */
async function breakerRows(registry: ModelRegistry, breakers: ProviderBreakers, team: string): Promise<{ rows: BreakerRow[]; withoutModels: ProviderId[] }> {
  const providers = registry.providers.map((provider) => {
    const modelsByBreaker = new Map<string, string[]>();
    for (const model of modelsOf(registry, provider.id)) {
      const name = breakerName(team, model);
      modelsByBreaker.set(name, [...(modelsByBreaker.get(name) ?? []), model.capabilities.modelName]);
    }
    return { provider: provider.id, modelsByBreaker };
  });
  await breakers.load(providers.flatMap(({ modelsByBreaker }) => [...modelsByBreaker.keys()]));
  const rows: BreakerRow[] = [];
  const withoutModels: ProviderId[] = [];
  for (const { provider, modelsByBreaker } of providers) {
    const states = [...modelsByBreaker].map(([name, models]) => ({
      models,
      snapshot: breakers.snapshot(name) ?? { state: "closed" as const, consecutiveFailures: 0 },
    }));
    const row = (models: string, snapshot: BreakerSnapshot): BreakerRow => ({
      provider,
      models,
      state: snapshot.state,
      failures: snapshot.consecutiveFailures,
      ...(snapshot.retryAt === undefined ? {} : { retryAt: snapshot.retryAt }),
    });
    if (states.length === 0) {
      withoutModels.push(provider);
    } else if (states.length === 1) {
      const { models, snapshot } = states[0]!;
      rows.push(row(models.length === 1 ? models[0]! : "all models", snapshot));
    } else {
      for (const { models, snapshot } of states) {
        if (snapshot.state !== "closed") rows.push(row(models.join(", "), snapshot));
      }
      const closed = states.filter(({ snapshot }) => snapshot.state === "closed").flatMap(({ models }) => models);
      const failures = states.filter(({ snapshot }) => snapshot.state === "closed").reduce((sum, { snapshot }) => sum + snapshot.consecutiveFailures, 0);
      if (closed.length > 0) rows.push(row(closed.length === 1 ? closed[0]! : `${closed.length} models`, { state: "closed", consecutiveFailures: failures }));
    }
  }
  return { rows, withoutModels };
}

function cacheRows(): CacheRow[] {
  return Object.entries(cacheStats())
    .map(([name, stats]) => {
      const hits = stats.memoryHits + stats.kvHits;
      const lookups = hits + stats.misses;
      return { name, ...stats, hitRate: lookups === 0 ? null : hits / lookups };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Everything the team view shows, read for the team the request authenticated as. */
export async function loadTeamStatus(scope: ThreadScope): Promise<TeamStatus> {
  const registry = registryFor(scope.env);
  const { budgets } = configOf(scope.env);
  const budgeted = budgets.usdPerDay !== null || budgets.usdPerMonth !== null;
  const [breakers, threads, usage, spend] = await Promise.all([
    breakerRows(registry, new ProviderBreakers(scope), scope.team),
    listThreads(scope, STATUS_THREADS),
    readUsage(scope, STATUS_USAGE_DAYS),
    budgeted ? spendOf(scope) : undefined,
  ]);
  const models = registry.available().map((model) => ({
    name: model.modelName,
    provider: model.provider,
    contextWindow: model.contextWindow,
    score: capabilityRank(model),
    aliases: model.aliases,
  }));
  return {
    team: scope.team,
    health: healthOf(registry),
    breakers: breakers.rows,
    providersWithoutModels: breakers.withoutModels,
    models,
    catalog: describeCatalog(catalogStatusOf(currentCatalogState()), shippedAsOf()),
    caches: cacheRows(),
    threads,
    usage,
    budget: spend ? { spend, ...budgets } : null,
  };
}

/** A thread of the team with its turns; undefined when the id is malformed, unknown, expired or another team's. */
export async function loadTeamThread(scope: ThreadScope, threadId: string): Promise<Thread | undefined> {
  try {
    return await loadThread(scope, threadId, 0);
  } catch (error) {
    if (error instanceof ToolError) return undefined;
    throw error;
  }
}
