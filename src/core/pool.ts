/**
 * Runs `task` over `items`, at most `limit` at once, and returns the results in the order of
 * `items`: the one bounded fan-out of the worker (a request keeps at most 6 connections open, and
 * a lookup per file must not start hundreds of reads at once). After a failure no new item
 * starts, and the first error is thrown once the running ones have settled, so nothing is left
 * running behind the caller.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const run = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  if (failure) throw failure.error;
  return results;
}
