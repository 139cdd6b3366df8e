/**
 * What an end-to-end file starts (the fake upstream, `wrangler dev`, MCP clients, a browser,
 * servers of its own), each registered as it comes up and stopped last-started-first in
 * afterAll: also when a start failed half way (what did start is registered), and one stop that
 * fails does not keep the others from running. Every `wrangler dev` is also killed when the test
 * process exits (worker-process.ts), whatever happened to the hooks.
 */
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import type { Server } from "node:http";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "../fake-upstream/server.ts";
import { launchChromium } from "./browser.ts";
import { startWorker, type StartOptions, type WorkerProcess } from "./worker-process.ts";

export class E2eStack {
  private readonly stops: Array<() => Promise<unknown>> = [];

  /** Registers something started: `stop` ends it with the stack. Returns `started`. */
  add<T>(started: T, stop: (started: T) => Promise<unknown>): T {
    this.stops.push(() => stop(started));
    return started;
  }

  /** Registers something once it has started; if starting fails there is nothing to stop. */
  async start<T>(starting: Promise<T>, stop: (started: T) => Promise<unknown>): Promise<T> {
    return this.add(await starting, stop);
  }

  /** A fresh temporary directory, removed with the stack. */
  tempDir(prefix: string): string {
    return this.add(mkdtempSync(join(tmpdir(), prefix)), (dir) => rm(dir, { recursive: true, force: true }));
  }

  upstream(): Promise<FakeUpstream> {
    return this.start(startFakeUpstream(), (upstream) => upstream.close());
  }

  worker(options?: StartOptions): Promise<WorkerProcess> {
    return this.start(startWorker(options), (worker) => worker.stop());
  }

  browser(): Promise<Browser> {
    return this.start(launchChromium(), (browser) => browser.close());
  }

  /** An MCP client, closed with the stack (before the worker it talks to, which started first). */
  client<C extends { close(): Promise<void> }>(connecting: Promise<C>): Promise<C> {
    return this.start(connecting, (client) => client.close());
  }

  /** Stops everything registered, last first; throws the first failure once all were tried. */
  async stop(): Promise<void> {
    const failures: unknown[] = [];
    for (let stop = this.stops.pop(); stop; stop = this.stops.pop()) {
      await stop().catch((error: unknown) => failures.push(error));
    }
    if (failures.length > 0) throw failures[0];
  }
}

/** A stack for the calling test file (or describe block), stopped in its afterAll. */
export function e2eStack(): E2eStack {
  const stack = new E2eStack();
  afterAll(() => stack.stop());
  return stack;
}

/** Closes a client whose other end may be gone already (a bridge that exited): there is nothing left to stop. */
export function closeQuietly(client: { close(): Promise<void> }): Promise<void> {
  return client.close().catch(() => undefined);
}

/** Closes a Node server; one that never listened closes at once. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((done) => server.close(() => done()));
}
