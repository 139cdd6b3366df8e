/**
 * A minimal Chrome DevTools Protocol client for the worker's inspector (the `--inspector-port` of
 * wrangler dev), over Node's built-in WebSocket: CPU profiles of the code running in workerd.
 */

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface Inspector {
  send<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  close(): void;
}

export async function connectInspector(inspectorPort: number): Promise<Inspector> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error("the worker's inspector lists no target");
  // Wrangler's inspector proxy accepts only local DevTools origins; undici's WebSocket takes headers.
  const socket = new WebSocket(url, { headers: { origin: "http://localhost" } } as unknown as string[]);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("error", () => reject(new Error(`cannot connect to the inspector at ${url}`)), { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
    if (message.id === undefined) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) waiter?.reject(new Error(message.error.message));
    else waiter?.resolve(message.result);
  });
  return {
    send: <T>(method: string, params: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

export interface SelfTime {
  name: string;
  ms: number;
  share: number;
}

/**
 * Time with the function anywhere on the stack (its own code and what it called), per function,
 * from the sample sequence. After an await, V8 shows an async function's continuation with that
 * function at the bottom of the stack, so this is the CPU spent in all its synchronous segments.
 */
export function inclusiveTimes(profile: CpuProfile): SelfTime[] {
  const parent = new Map<number, number>();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const counts = new Map<string, number>();
  const samples = profile.samples ?? [];
  for (const leaf of samples) {
    const seen = new Set<string>();
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id);
      if (!node) break;
      const { functionName, url, lineNumber } = node.callFrame;
      if (!url && (functionName === "(root)" || functionName === "(program)" || functionName === "(idle)")) continue;
      seen.add(`${functionName || "(anonymous)"} ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ""}`.trim());
    }
    for (const key of seen) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const total = samples.length || 1;
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([name, count]) => ({ name, ms: (count / total) * totalMs, share: count / total }));
}

/** Self time per function (name + file:line) and per file/package, from sample counts. */
export function selfTimes(profile: CpuProfile): { functions: SelfTime[]; files: SelfTime[]; totalMs: number } {
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const hits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0) || 1;
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const node of profile.nodes) {
    const count = node.hitCount ?? 0;
    if (count === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = shortUrl(url);
    const fn = `${functionName || "(anonymous)"} ${file ? `${file}:${lineNumber + 1}` : ""}`.trim();
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + count);
    const group = file || functionName;
    byFile.set(group, (byFile.get(group) ?? 0) + count);
  }
  const list = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .map(([name, count]) => ({ name, ms: (count / hits) * totalMs, share: count / hits }));
  return { functions: list(byFunction), files: list(byFile), totalMs };
}

function shortUrl(url: string): string {
  if (!url) return "";
  const modules = url.lastIndexOf("node_modules/");
  if (modules >= 0) return url.slice(modules + "node_modules/".length);
  const src = url.indexOf("/src/");
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^.*\/\.wrangler\/tmp\/[^/]+\//, "");
}
