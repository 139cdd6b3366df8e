/**
 * The cross-team matrix: team B, holding team A's ids (continuation ids, workflow sessions, blob
 * hashes, manifest paths and workspace names), can read, continue, list or overwrite none of A's
 * threads, blobs, manifests or usage. Each row performs the attack with B's token and shows it
 * fails, then checks A's data is intact.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/core/env.ts";
import { callWorker, connectClient, testEnv } from "./helpers";
import { mockUpstream, promptOf } from "./upstream-mock";

const TOKEN_A = "team-a-token-0123456789";
const TOKEN_B = "team-b-token-0123456789";

async function sha256Hex(data: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(data));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function twoTeams(): Promise<Env> {
  const tokens = { [await sha256Hex(TOKEN_A)]: "team-a", [await sha256Hex(TOKEN_B)]: "team-b" };
  return testEnv({ TEAM_TOKENS: JSON.stringify(tokens), GEMINI_API_KEY: "k", GEMINI_BASE_URL: "https://gemini.test" });
}

const as = (token: string) => ({ authorization: `Bearer ${token}` });

async function call(workerEnv: Env, token: string, name: string, args: Record<string, unknown>, headers: Record<string, string> = {}) {
  const client = await connectClient(workerEnv, { ...as(token), ...headers });
  const result = await client.callTool({ name, arguments: args });
  await client.close();
  const text = (result.content as Array<{ text: string }>)[0]?.text ?? "";
  return { isError: result.isError === true, text, json: result.isError ? undefined : (JSON.parse(text) as Record<string, any>) };
}

function rest(path: string, token: string, init: RequestInit = {}): Request {
  return new Request(`http://localhost${path}`, { ...init, headers: { ...as(token), ...(init.headers as Record<string, string>) } });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("cross-team matrix (attack: team B holds team A's ids)", () => {
  it("threads: B can neither continue nor list A's thread, and A's thread keeps exactly its turns", async () => {
    mockUpstream(() => "noted");
    const workerEnv = await twoTeams();
    const a = await call(workerEnv, TOKEN_A, "chat", { prompt: "Team A's secret plan: zebra.", model: "flash" });
    const id = a.json?.continuation_offer.continuation_id as string;

    const continued = await call(workerEnv, TOKEN_B, "chat", { prompt: "What was the plan?", continuation_id: id });
    expect(continued.isError).toBe(true);
    expect(continued.text).toContain("not found");
    const listed = await call(workerEnv, TOKEN_B, "threads", {});
    expect(listed.json?.content).not.toContain(id);
    const listedRest = await callWorker(rest("/v1/threads", TOKEN_B), workerEnv);
    expect(JSON.stringify(await listedRest.json())).not.toContain(id);

    const thread = await workerEnv.CONVERSATIONS.getByName(`team-a:${id}`).read();
    expect(thread?.turns).toHaveLength(2);
    // B's probe created nothing under its own name either.
    expect(await workerEnv.CONVERSATIONS.getByName(`team-b:${id}`).read()).toBeNull();
  });

  it("workflow sessions: B cannot continue A's debug session", async () => {
    const workerEnv = await twoTeams();
    const step = { step: "Crash", step_number: 1, total_steps: 2, next_step_required: true, findings: "A's finding" };
    const a = await call(workerEnv, TOKEN_A, "debug", step);
    const session = a.json?.continuation_id as string;
    const b = await call(workerEnv, TOKEN_B, "debug", { ...step, step_number: 2, continuation_id: session });
    expect(b.isError).toBe(true);
    expect(b.text).toContain("not found");
  });

  it("blobs: B can neither see nor read A's blob, and its own upload of the same content does not touch A's", async () => {
    const workerEnv = await twoTeams();
    const content = "A_SECRET = 'zebra'\n";
    const sha = await sha256Hex(content);
    expect((await callWorker(rest(`/v1/blobs/${sha}`, TOKEN_A, { method: "PUT", body: content }), workerEnv)).status).toBe(201);

    expect((await callWorker(rest(`/v1/blobs/${sha}`, TOKEN_B, { method: "HEAD" }), workerEnv)).status).toBe(404);
    expect((await callWorker(rest(`/v1/blobs/${sha}`, TOKEN_B), workerEnv)).status).toBe(404);
    const missing = await callWorker(
      rest("/v1/blobs/missing", TOKEN_B, { method: "POST", body: JSON.stringify({ sha256: [sha] }), headers: { "content-type": "application/json" } }),
      workerEnv,
    );
    expect(await missing.json()).toEqual({ missing: [sha] });
    // A content reference names only the caller's own blobs.
    const byHash = await call(workerEnv, TOKEN_B, "chat", { prompt: "read it", model: "flash", absolute_file_paths: [`sha256:${sha}`] });
    expect(byHash.json?.status).toBe("files_required_to_continue");

    // B uploading the same bytes makes B's own copy; A's stays readable as it was.
    expect((await callWorker(rest(`/v1/blobs/${sha}`, TOKEN_B, { method: "PUT", body: content }), workerEnv)).status).toBe(201);
    const stillA = await callWorker(rest(`/v1/blobs/${sha}`, TOKEN_A), workerEnv);
    expect(await stillA.text()).toBe(content);
  });

  it("manifests: B's manifest of the same workspace name neither reads nor overwrites A's paths", async () => {
    const sent = mockUpstream(() => "ok");
    const workerEnv = await twoTeams();
    const mine = "print('team A')\n";
    const theirs = "print('team B overwrote this')\n";
    for (const [token, content] of [
      [TOKEN_A, mine],
      [TOKEN_B, theirs],
    ] as const) {
      const sha = await sha256Hex(content);
      await callWorker(rest(`/v1/blobs/${sha}`, token, { method: "PUT", body: content }), workerEnv);
      const manifest = await callWorker(
        rest("/v1/workspaces/shared/manifest", token, {
          method: "PUT",
          body: JSON.stringify({ files: { "/repo/app.py": sha } }),
          headers: { "content-type": "application/json" },
        }),
        workerEnv,
      );
      expect(manifest.status).toBe(200);
    }
    await call(workerEnv, TOKEN_A, "chat", { prompt: "read", model: "flash", absolute_file_paths: ["/repo/app.py"] }, { "x-zen-workspace": "shared" });
    expect(promptOf(sent.at(-1)!)).toContain("team A");
    expect(promptOf(sent.at(-1)!)).not.toContain("overwrote");
  });

  it("usage and the server's details: B sees only its own usage, and an unauthenticated caller sees no details", async () => {
    mockUpstream(() => "counted");
    const workerEnv = await twoTeams();
    await call(workerEnv, TOKEN_A, "chat", { prompt: "count me", model: "flash" });
    const usageB = (await (await callWorker(rest("/v1/usage?days=7", TOKEN_B), workerEnv)).json()) as { days: unknown[] };
    expect(JSON.stringify(usageB)).not.toContain("gemini-3.8-flash");
    const health = (await (await callWorker(new Request("http://localhost/health"), workerEnv)).json()) as Record<string, unknown>;
    expect(Object.keys(health).sort()).toEqual(["status", "version"]);
  });
});
