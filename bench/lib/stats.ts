/** Order statistics for benchmark samples (milliseconds unless said otherwise). */

export interface Summary {
  n: number;
  min: number;
  median: number;
  p99: number;
  mean: number;
  max: number;
}

/** The p-quantile (0..1) of sorted values, interpolating linearly between ranks (R's type 7). */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (sorted.length - 1) * Math.min(1, Math.max(0, p));
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  const low = sorted[lower] as number;
  const high = sorted[upper] as number;
  return low + (high - low) * (rank - lower);
}

export function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

export function median(values: readonly number[]): number {
  return quantile(sorted(values), 0.5);
}

/** With fewer than 100 samples p99 is close to the maximum; the sample count is reported with it. */
export function summarize(values: readonly number[]): Summary {
  const s = sorted(values);
  const mean = s.length > 0 ? s.reduce((a, b) => a + b, 0) / s.length : Number.NaN;
  return {
    n: s.length,
    min: s[0] ?? Number.NaN,
    median: quantile(s, 0.5),
    p99: quantile(s, 0.99),
    mean,
    max: s.at(-1) ?? Number.NaN,
  };
}

/**
 * The median of the ratios of paired samples a[i] / b[i] (taken next to each other in time), so a
 * slow phase of a shared machine raises both sides of a pair instead of one side's median. Pairs
 * with a missing side (NaN) are left out.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (y > 0 && Number.isFinite(x)) ratios.push(x / y);
  }
  return median(ratios);
}

export function ratioOfMedians(a: readonly number[], b: readonly number[]): number {
  return median(a) / median(b);
}

/** A small deterministic pseudo-random generator (mulberry32): the same samples give the same interval. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The spread of a statistic of `count` paired observations (rounds, cycles): its 95 % percentile
 * bootstrap interval, from `iterations` resamples of the observations' indices with replacement
 * (fixed seed). How far the figure could move by the luck of which rounds were measured; not the
 * run-to-run spread of a shared machine, which moves every observation at once.
 */
export function bootstrapInterval(count: number, statistic: (indices: readonly number[]) => number, iterations = 1000): { low: number; high: number } {
  const random = seededRandom(count);
  const values: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const indices = Array.from({ length: count }, () => Math.floor(random() * count));
    const value = statistic(indices);
    if (Number.isFinite(value)) values.push(value);
  }
  const s = sorted(values);
  return { low: quantile(s, 0.025), high: quantile(s, 0.975) };
}
