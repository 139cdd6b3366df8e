import { ok, type TimedCall } from "./mcp.ts";
import type { BenchContext } from "./run.ts";

/**
 * The order of the measurements within a round, so that what is compared is measured next to
 * each other in time and no side always goes first (caches, GC, a neighbour's load on a shared
 * machine would otherwise fall on one side).
 *
 * Round r runs the groups rotated by floor(r / 2), flattened; odd rounds run that sequence
 * backwards (ABBA over the whole sequence: A B C, C B A, B C A, A C B, ...). So for any two
 * kinds, each round pair has one round with each first, and the members of a group (a side and
 * its baseline) stay next to each other.
 */
export function interleavedOrder<T>(groups: readonly (readonly T[])[], round: number): T[] {
  const shift = Math.floor(round / 2) % Math.max(1, groups.length);
  const sequence = [...groups.slice(shift), ...groups.slice(0, shift)].flat();
  return round % 2 === 0 ? sequence : sequence.reverse();
}

/**
 * Checks the orders actually run: for each pair, the rounds where `a` went first and those where
 * `b` did differ by at most one. Throws otherwise (the comparison would be biased by position).
 */
export function checkBalanced<T>(orders: readonly (readonly T[])[], pairs: ReadonlyArray<readonly [T, T]>): Array<{ a: T; b: T; aFirst: number; bFirst: number }> {
  return pairs.map(([a, b]) => {
    let aFirst = 0;
    let bFirst = 0;
    for (const order of orders) {
      const i = order.indexOf(a);
      const j = order.indexOf(b);
      if (i < 0 || j < 0) continue;
      if (i < j) aFirst++;
      else bFirst++;
    }
    if (Math.abs(aFirst - bFirst) > 1) {
      throw new Error(`unbalanced order: ${String(a)} went first in ${aFirst} rounds, ${String(b)} in ${bFirst}`);
    }
    return { a, b, aFirst, bFirst };
  });
}

/**
 * Sequential calls of each kind, compared side by side: `warmups` calls of every kind first, then
 * `rounds` rounds in interleavedOrder, bounded by `budgetMs`. Any failed call throws. Returns each
 * kind's client-side latencies and the orders run (for checkBalanced).
 */
export async function measureInterleaved<K extends string>(
  ctx: BenchContext,
  groups: readonly (readonly K[])[],
  call: (kind: K) => Promise<TimedCall>,
  options: { warmups: number; rounds: number; budgetMs: number; label: string },
): Promise<{ samples: Record<K, number[]>; orders: K[][] }> {
  const kinds = groups.flat();
  ctx.log(`warm-up: ${options.warmups} calls of each`);
  for (const i of ctx.bounded(options.warmups, 60_000, "warm-up")) {
    for (const kind of kinds) ok(await call(kind), `warm-up ${kind} #${i}`);
  }
  ctx.log(`measuring: ${options.rounds} interleaved rounds of ${kinds.join(", ")}`);
  const samples = Object.fromEntries(kinds.map((kind) => [kind, [] as number[]])) as Record<K, number[]>;
  const orders: K[][] = [];
  for (const round of ctx.bounded(options.rounds, options.budgetMs, options.label)) {
    const order = interleavedOrder(groups, round);
    orders.push(order);
    for (const kind of order) samples[kind].push(ok(await call(kind), `${kind} round ${round}`).ms);
  }
  return { samples, orders };
}
