import type { TeamActivity, ThreadSummary, UsageRow } from "../core/rpc/team";
import type { Env } from "../core/env";

/** Who tells: the authenticated team, and a way to keep the request alive for the write. */
export interface ActivityScope {
  env: Env;
  team: string;
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * How long an isolate gathers a team's activity before writing it: concurrent calls of a team
 * then cost its object one write, not one for each thread and each model call.
 */
const GATHER_MS = 250;

interface Gathering {
  threads: Map<string, ThreadSummary>;
  usage: Map<string, UsageRow>;
  blobsUsed: Set<string>;
}

// Per env object (one per isolate in production), as the breakers' view.
const gatherings = new WeakMap<Env, Map<string, Gathering>>();

function merge(into: UsageRow | undefined, row: UsageRow): UsageRow {
  if (!into) return row;
  return {
    ...into,
    inputTokens: into.inputTokens + row.inputTokens,
    outputTokens: into.outputTokens + row.outputTokens,
    calls: into.calls + row.calls,
    // A call without a price leaves the day's cost unknown, as the object's sum does.
    costUsd: into.costUsd === null || row.costUsd === null ? null : into.costUsd + row.costUsd,
  };
}

/**
 * Tells the team's object, off the hot path, what a call did: a thread's list entry, a model
 * call's usage, a blob it read (which keeps the blob from expiring). The request that opens a gathering keeps itself alive (waitUntil) until the
 * gathering is written, so nothing told is left unwritten when the isolate goes away; a failure
 * is logged, never the caller's.
 */
export function tellTeam(scope: ActivityScope, news: { thread?: ThreadSummary; usage?: UsageRow; blobUsed?: string }): void {
  let byTeam = gatherings.get(scope.env);
  if (!byTeam) {
    byTeam = new Map();
    gatherings.set(scope.env, byTeam);
  }
  let gathering = byTeam.get(scope.team);
  if (!gathering) {
    const opened: Gathering = { threads: new Map(), usage: new Map(), blobsUsed: new Set() };
    gathering = opened;
    byTeam.set(scope.team, opened);
    const teams = byTeam;
    scope.waitUntil(
      (async () => {
        await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
        teams.delete(scope.team);
        const activity: TeamActivity = { threads: [...opened.threads.values()], usage: [...opened.usage.values()], blobsUsed: [...opened.blobsUsed] };
        await scope.env.TEAMS.getByName(scope.team).recordActivity(activity);
      })().catch((error: unknown) => console.error(JSON.stringify({ event: "team_activity_not_recorded", team: scope.team, error: String(error) }))),
    );
  }
  if (news.blobUsed) gathering.blobsUsed.add(news.blobUsed);
  if (news.thread) gathering.threads.set(news.thread.threadId, news.thread);
  if (news.usage) {
    const key = `${news.usage.day}|${news.usage.provider}|${news.usage.model}`;
    gathering.usage.set(key, merge(gathering.usage.get(key), news.usage));
  }
}
