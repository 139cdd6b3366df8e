/**
 * The local mode (no TEAM_TOKENS: one team, no token) against the real worker under `wrangler dev`
 * listening on every interface (`--ip 0.0.0.0`): the connection decides, as workerd reports it in
 * CF-Connecting-IP (127.0.0.1 from this machine, the peer's address from any other), never the
 * Host header, which any client sets as it likes.
 */
import { request as httpRequest } from "node:http";
import { networkInterfaces } from "node:os";
import { beforeAll, describe, expect, it } from "vitest";
import type { WorkerProcess } from "../support/worker-process.ts";
import { e2eStack } from "../support/e2e-stack.ts";

let worker: WorkerProcess;

/** This machine's address on a network interface other than loopback, if it has one. */
const outsideAddress = Object.values(networkInterfaces())
  .flat()
  .find((entry) => entry !== undefined && entry.family === "IPv4" && !entry.internal)?.address;

const stack = e2eStack();

beforeAll(async () => {
  worker = await stack.worker({ ip: "0.0.0.0" });
});

const TOOL_CALL = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "version", arguments: {} } });

/** A request over a connection to `address`, naming `host` in its Host header (which fetch cannot set). */
function send(address: string, host: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host, accept: "application/json, text/event-stream" };
    if (body !== undefined) headers["content-type"] = "application/json";
    const outgoing = httpRequest({ host: address, port: worker.port, path, method: body === undefined ? "GET" : "POST", headers }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

describe("local mode: served to this machine only", () => {
  it("answers a request from this machine's loopback without a token", async () => {
    const threads = await send("127.0.0.1", `127.0.0.1:${worker.port}`, "/v1/threads");
    expect(threads.status).toBe(200);
    expect(JSON.parse(threads.text)).toMatchObject({ team: "default" });
    const tool = await send("127.0.0.1", `localhost:${worker.port}`, "/mcp", TOOL_CALL);
    expect(tool.status).toBe(200);
    expect(tool.text).toContain("zen-mcp-worker");
  });

  it.skipIf(outsideAddress === undefined)("attack: a loopback Host over a connection from another interface gets 401", async () => {
    const address = outsideAddress ?? "";
    for (const host of [`127.0.0.1:${worker.port}`, `LOCALHOST:${worker.port}`, `[::1]:${worker.port}`]) {
      const threads = await send(address, host, "/v1/threads");
      expect(threads.status, host).toBe(401);
      expect(JSON.parse(threads.text)).toMatchObject({ error: "unauthorized", message: expect.stringContaining("TEAM_TOKENS") });
      const tool = await send(address, host, "/mcp", TOOL_CALL);
      expect(tool.status, host).toBe(401);
      expect(tool.text).not.toContain("zen-mcp-worker version");
    }
  });
});
