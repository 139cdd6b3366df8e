/**
 * The e2e stack stops what a test file started even when its start fails half way: after its
 * afterAll, and when the test process exits without one, no `wrangler dev` of it (nor the workerd
 * below) is left running.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { E2eStack } from "../support/e2e-stack.ts";
import { descendants } from "../support/worker-process.ts";

const run = promisify(execFile);
const STACK = resolve(import.meta.dirname, "../support/e2e-stack.ts");

/** Whether a process runs: a zombie (exited, not yet reaped by its parent) does not. */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
}

/** The processes of `pids` still running once they had time to exit (bounded: about 10 s). */
async function leftRunning(pids: number[]): Promise<number[]> {
  for (let attempt = 0; attempt < 200 && pids.some(running); attempt++) await new Promise((done) => setTimeout(done, 50));
  return pids.filter(running);
}

describe("e2e stack", () => {
  it("stops the worker (workerd included) when a later part of the start fails", async () => {
    const stack = new E2eStack();
    let pids: number[] = [];
    // A part that fails after the worker is up, as a browser that cannot launch does.
    const failing = async () => {
      const worker = await stack.worker();
      pids = [worker.pid, ...descendants(worker.pid)];
      await stack.start(Promise.reject(new Error("the browser did not start")), async () => undefined);
    };
    await expect(failing()).rejects.toThrow("the browser did not start");
    expect(pids.length).toBeGreaterThan(1);
    expect(pids.filter(running)).toEqual(pids);

    // What e2eStack() runs in afterAll.
    await stack.stop();
    expect(await leftRunning(pids)).toEqual([]);
  });

  it("kills the worker when the test process exits before any teardown ran", async () => {
    const script = `
      import { E2eStack } from ${JSON.stringify(STACK)};
      import { descendants } from ${JSON.stringify(resolve(import.meta.dirname, "../support/worker-process.ts"))};
      const worker = await new E2eStack().worker();
      console.log(JSON.stringify([worker.pid, ...descendants(worker.pid)]));
      throw new Error("a later part failed and no afterAll came");
    `;
    const result = await run(process.execPath, ["--input-type=module", "-e", script]).then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(result?.stderr).toContain("a later part failed and no afterAll came");
    const pids = JSON.parse(result?.stdout.trim().split("\n").at(-1) ?? "[]") as number[];
    expect(pids.length).toBeGreaterThan(1);
    expect(await leftRunning(pids)).toEqual([]);
  });
});
