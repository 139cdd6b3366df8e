import { describe, expect, it } from "vitest";
import { mapLimit } from "../../src/core/pool.ts";

/** A task that waits until the test lets it go, counting how many run at once. */
function gatedTasks() {
  const gates: Array<() => void> = [];
  let running = 0;
  let most = 0;
  return {
    gates,
    most: () => most,
    task: async (item: number) => {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((open) => gates.push(open));
      running--;
      if (item < 0) throw new Error(`item ${item} failed`);
      return item * 10;
    },
  };
}

/** Opens the gates one by one, as the tasks reach them, until `done` settles. */
async function drain(gates: Array<() => void>, done: Promise<unknown>): Promise<void> {
  let finished = false;
  void done.then(
    () => (finished = true),
    () => (finished = true),
  );
  while (!finished) {
    await new Promise((tick) => setImmediate(tick));
    gates.shift()?.();
  }
}

describe("mapLimit", () => {
  it("keeps at most `limit` in flight and returns results in the order of the items", async () => {
    const { gates, most, task } = gatedTasks();
    const done = mapLimit([1, 2, 3, 4, 5, 6, 7], 3, task);
    await drain(gates, done);
    expect(await done).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(most()).toBe(3);
  });

  it("starts nothing after a failure and throws it once the running ones settled", async () => {
    const { gates, task } = gatedTasks();
    const started: number[] = [];
    const done = mapLimit([-1, 2, 3, 4, 5], 2, (item) => {
      started.push(item);
      return task(item);
    });
    await drain(gates, done);
    await expect(done).rejects.toThrow("item -1 failed");
    expect(started).toEqual([-1, 2]);
    expect(gates).toEqual([]);
  });

  it("returns an empty list for no items", async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });
});
