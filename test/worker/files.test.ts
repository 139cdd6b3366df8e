import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/core/env.ts";
import { callWorker, connectClient, testEnv, watchedNamespace } from "./helpers";
import { mockUpstream, promptOf } from "./upstream-mock";

async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const digest = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function put(path: string, body: BodyInit, headers: Record<string, string> = {}, method = "PUT"): Request {
  return new Request(`http://localhost${path}`, { method, body, headers });
}

async function upload(workerEnv: Env, content: Uint8Array | string, headers: Record<string, string> = {}) {
  const sha = await sha256Hex(content);
  const response = await callWorker(put(`/v1/blobs/${sha}`, content, headers), workerEnv);
  return { sha, response, body: (await response.json()) as Record<string, unknown> };
}

async function register(workerEnv: Env, files: Record<string, string>, workspace = "default") {
  const response = await callWorker(
    put(`/v1/workspaces/${workspace}/manifest`, JSON.stringify({ files }), { "content-type": "application/json" }),
    workerEnv,
  );
  expect(response.status).toBe(200);
}

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);

afterEach(() => {
  vi.restoreAllMocks();
});

describe("blob uploads", () => {
  it("stores text, answers HEAD, and reads it back byte for byte", async () => {
    const workerEnv = testEnv();
    const text = "line one\nline two\nline three";
    const { sha, response, body } = await upload(workerEnv, text);
    expect(response.status).toBe(201);
    expect(body).toMatchObject({ sha256: sha, size: text.length, lines: 3, text: true, mediaType: "text/plain", tokens: Math.ceil(text.length / 4) });
    const head = await callWorker(new Request(`http://localhost/v1/blobs/${sha}`, { method: "HEAD" }), workerEnv);
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(text.length));
    const back = await callWorker(new Request(`http://localhost/v1/blobs/${sha}`), workerEnv);
    expect(await back.text()).toBe(text);
    const again = await upload(workerEnv, text);
    expect(again.response.status).toBe(200);
  });

  it("says which of many blobs the team lacks in one request", async () => {
    const workerEnv = testEnv();
    const { sha } = await upload(workerEnv, "present content");
    const absent = await sha256Hex("never uploaded");
    const response = await callWorker(
      put("/v1/blobs/missing", JSON.stringify({ sha256: [sha, absent] }), { "content-type": "application/json" }, "POST"),
      workerEnv,
    );
    expect(await response.json()).toEqual({ missing: [absent] });
    const bad = await callWorker(put("/v1/blobs/missing", JSON.stringify({ sha256: ["nope"] }), {}, "POST"), workerEnv);
    expect(bad.status).toBe(400);
  });

  it("stores an empty file", async () => {
    const { response, body } = await upload(testEnv(), "");
    expect(response.status).toBe(201);
    expect(body).toMatchObject({ size: 0, lines: 0, tokens: 0 });
  });

  it("keeps binary content and an image's media type", async () => {
    const workerEnv = testEnv();
    const { sha, body } = await upload(workerEnv, PNG, { "content-type": "image/png" });
    expect(body).toMatchObject({ text: false, mediaType: "image/png", size: PNG.length, tokens: 0 });
    const back = await callWorker(new Request(`http://localhost/v1/blobs/${sha}`), workerEnv);
    expect(new Uint8Array(await back.arrayBuffer())).toEqual(PNG);
  });

  it("stores a multi-chunk file and verifies its hash at the end", async () => {
    const workerEnv = testEnv();
    const big = new Uint8Array(2.5 * 1024 * 1024).map((_, i) => 97 + (i % 26));
    const { sha, response } = await upload(workerEnv, big);
    expect(response.status).toBe(201);
    const back = new Uint8Array(await (await callWorker(new Request(`http://localhost/v1/blobs/${sha}`), workerEnv)).arrayBuffer());
    expect(back.length).toBe(big.length);
    expect(await sha256Hex(back)).toBe(sha);
  });

  it("refuses a hash mismatch and stores nothing", async () => {
    const workerEnv = testEnv();
    const wrong = await sha256Hex("something else");
    const response = await callWorker(put(`/v1/blobs/${wrong}`, "actual content"), workerEnv);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "hash_mismatch" });
    const head = await callWorker(new Request(`http://localhost/v1/blobs/${wrong}`, { method: "HEAD" }), workerEnv);
    expect(head.status).toBe(404);
  });

  it("answers files over the size limit and over the team quota with 413", async () => {
    const small = testEnv({ MAX_BLOB_BYTES: "2048" });
    const tooLarge = await upload(small, "x".repeat(4096));
    expect(tooLarge.response.status).toBe(413);
    expect(tooLarge.body).toMatchObject({ error: "too_large" });

    // A team of its own, so the other tests' uploads do not count against this quota.
    const quota = testEnv({ TEAM_BLOB_QUOTA_BYTES: "3000", TEAM_TOKENS: JSON.stringify({ [await sha256Hex("q")]: "quota-team" }) });
    const asQuotaTeam = { authorization: "Bearer q" };
    expect((await upload(quota, "a".repeat(2000), asQuotaTeam)).response.status).toBe(201);
    const over = await upload(quota, "b".repeat(2000), asQuotaTeam);
    expect(over.response.status).toBe(413);
    expect(over.body).toMatchObject({ error: "quota_exceeded" });
  });

  it("keeps teams' blobs apart", async () => {
    const digest = async (token: string) => sha256Hex(token);
    const workerEnv = testEnv({ TEAM_TOKENS: JSON.stringify({ [await digest("a")]: "team-a", [await digest("b")]: "team-b" }) });
    const { sha } = await upload(workerEnv, "team a's secret", { authorization: "Bearer a" });
    const mine = await callWorker(new Request(`http://localhost/v1/blobs/${sha}`, { method: "HEAD", headers: { authorization: "Bearer a" } }), workerEnv);
    const theirs = await callWorker(new Request(`http://localhost/v1/blobs/${sha}`, { method: "HEAD", headers: { authorization: "Bearer b" } }), workerEnv);
    expect(mine.status).toBe(200);
    expect(theirs.status).toBe(404);
  });

  it("assembles a multipart upload sent out of order", async () => {
    const workerEnv = testEnv({ BLOB_PART_MIB: "5" });
    const content = new Uint8Array(2 * 5 * 1024 * 1024 + 100).map((_, i) => (i * 7) % 251);
    const sha = await sha256Hex(content);
    const begin = await callWorker(put(`/v1/blobs/${sha}/uploads`, JSON.stringify({ size: content.length }), {}, "POST"), workerEnv);
    expect(begin.status).toBe(201);
    const { uploadId, partSize } = (await begin.json()) as { uploadId: string; partSize: number };
    expect(partSize).toBe(5 * 1024 * 1024);
    for (const part of [3, 1, 2]) {
      const slice = content.slice((part - 1) * partSize, part * partSize);
      const response = await callWorker(put(`/v1/blobs/${sha}/uploads/${uploadId}/parts/${part}`, slice), workerEnv);
      expect(response.status).toBe(200);
    }
    const done = await callWorker(put(`/v1/blobs/${sha}/uploads/${uploadId}/complete`, "{}", {}, "POST"), workerEnv);
    expect(done.status).toBe(201);
    expect(await done.json()).toMatchObject({ sha256: sha, size: content.length, text: false });
    const back = new Uint8Array(await (await callWorker(new Request(`http://localhost/v1/blobs/${sha}`), workerEnv)).arrayBuffer());
    expect(back).toEqual(content);
  });

  it("refuses a part size below R2's smallest part, naming the variable", async () => {
    const response = await upload(testEnv({ BLOB_PART_MIB: "4" }), "x");
    expect(response.response.status).toBe(503);
    expect(response.body).toMatchObject({ error: "configuration", message: expect.stringContaining("BLOB_PART_MIB") });
  });
});

describe("file references in tools", () => {
  const GEMINI = { GEMINI_API_KEY: "k", GEMINI_BASE_URL: "https://gemini.test" };

  async function chat(workerEnv: Env, args: Record<string, unknown>, headers: Record<string, string> = {}) {
    const client = await connectClient(workerEnv, headers);
    const result = await client.callTool({ name: "chat", arguments: args });
    await client.close();
    const text = (result.content as Array<{ text: string }>)[0]?.text ?? "";
    return { isError: result.isError === true, text, output: result.isError ? {} : JSON.parse(text) };
  }

  it("resolves registered paths and directories, embedding files with line numbers", async () => {
    const sent = mockUpstream();
    const workerEnv = testEnv(GEMINI);
    const files = {
      "/repo/src/app.py": "def main():\n    return 42\n",
      "/repo/src/util.ts": "export const x = 1;\n",
      "/repo/src/node_modules/dep/index.js": "module.exports = 1;\n",
      "/repo/src/logo.bin": "not code",
    };
    const manifest: Record<string, string> = {};
    for (const [path, content] of Object.entries(files)) manifest[path] = (await upload(workerEnv, content)).sha;
    await register(workerEnv, manifest, "ws1");

    const result = await chat(workerEnv, { prompt: "review", model: "flash", absolute_file_paths: ["/repo/src"] }, { "x-zen-workspace": "ws1" });
    expect(result.output.status).toBe("continuation_available");
    const prompt = promptOf(sent[0]!);
    expect(prompt).toContain("--- BEGIN FILE: /repo/src/app.py ---");
    expect(prompt).toContain("   2│     return 42");
    expect(prompt).toContain("/repo/src/util.ts");
    expect(prompt).not.toContain("node_modules");
    expect(prompt).not.toContain("logo.bin");
  });

  it("asks for paths the workspace has not registered", async () => {
    mockUpstream();
    const workerEnv = testEnv(GEMINI);
    const result = await chat(workerEnv, { prompt: "x", model: "flash", absolute_file_paths: ["/nowhere/a.py"] }, { "x-zen-workspace": "ws2" });
    expect(result.output.status).toBe("files_required_to_continue");
    expect(JSON.parse(result.output.content).files_needed).toEqual(["/nowhere/a.py"]);
  });

  it("bounds the fan-out of file references (attack: one call names thousands of files)", async () => {
    const sent = mockUpstream();
    const workerEnv = testEnv(GEMINI);
    const tooMany = Array.from({ length: 201 }, (_, i) => `/repo/f${i}.py`);
    const refused = await chat(workerEnv, { prompt: "x", model: "flash", absolute_file_paths: tooMany });
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain("at most 200 files");
    expect(sent).toHaveLength(0);

    const blob = await upload(workerEnv, "pass\n");
    const manifest: Record<string, string> = {};
    for (const dir of ["a", "b"]) for (let i = 0; i < 300; i++) manifest[`/big/${dir}/m${String(i).padStart(3, "0")}.py`] = blob.sha;
    await register(workerEnv, manifest, "ws-fan");
    const result = await chat(workerEnv, { prompt: "all of it", model: "flash", absolute_file_paths: ["/big/a", "/big/b"] }, { "x-zen-workspace": "ws-fan" });
    expect(result.isError).toBe(false);
    expect(result.output.metadata.files_skipped).toEqual([expect.objectContaining({ path: "(200 more files)" })]);
    expect(promptOf(sent[0]!).split("--- BEGIN FILE:").length - 1).toBe(400);
    // The thread keeps the files the model was shown, and no others.
    const id = result.output.continuation_offer.continuation_id;
    const thread = await workerEnv.CONVERSATIONS.getByName(`default:${id}`).read();
    expect(thread?.files).toHaveLength(400);
  });

  it("attack: 200 copies of one directory reference cost one directory query", async () => {
    const sent = mockUpstream();
    const workerEnv = testEnv(GEMINI);
    const blob = await upload(workerEnv, "pass\n");
    const manifest: Record<string, string> = {};
    for (let i = 0; i < 50; i++) manifest[`/copies/d/m${String(i).padStart(3, "0")}.py`] = blob.sha;
    await register(workerEnv, manifest, "ws-copies");
    const queries: string[] = [];
    workerEnv.TEAMS = watchedNamespace(workerEnv.TEAMS, ["lookupFiles", "filesUnder"], (method, args) => queries.push(`${method} ${JSON.stringify(args[1])}`));
    const copies = Array.from({ length: 200 }, () => "/copies/d");
    const result = await chat(workerEnv, { prompt: "again and again", model: "flash", absolute_file_paths: copies }, { "x-zen-workspace": "ws-copies" });
    expect(result.isError).toBe(false);
    expect(queries).toEqual(['lookupFiles ["/copies/d"]', 'filesUnder "/copies/d/"']);
    expect(promptOf(sent[0]!).split("--- BEGIN FILE:").length - 1).toBe(50);
  });

  it("accepts sha256 references and leaves out what passes the model's file budget", async () => {
    const sent = mockUpstream();
    const workerEnv = testEnv({ CUSTOM_API_URL: "https://local.test/v1", CUSTOM_MODEL_NAME: "tiny" });
    const small = await upload(workerEnv, "small = True\n");
    const huge = await upload(workerEnv, "y = 1\n".repeat(20_000));
    const result = await chat(workerEnv, {
      prompt: "look",
      model: "tiny",
      absolute_file_paths: [`sha256:${small.sha}`, `sha256:${huge.sha}`],
    });
    expect(result.isError).toBe(false);
    const prompt = promptOf(sent[0]!);
    expect(prompt).toContain("small = True");
    expect(prompt).toContain("SKIPPED FILES (TOKEN LIMIT)");
    expect(prompt).not.toContain("y = 1");
  });

  it("does not send a file twice in a continuation, and shows changed content again", async () => {
    const sent = mockUpstream();
    const workerEnv = testEnv(GEMINI);
    const v1 = await upload(workerEnv, "version = 1\n");
    await register(workerEnv, { "/p/config.py": v1.sha });
    const first = await chat(workerEnv, { prompt: "one", model: "flash", absolute_file_paths: ["/p/config.py"] });
    const id = first.output.continuation_offer.continuation_id;
    await chat(workerEnv, { prompt: "two", continuation_id: id, absolute_file_paths: ["/p/config.py"] });
    expect(promptOf(sent[1]!).split("BEGIN FILE: /p/config.py").length - 1).toBe(1);
    const v2 = await upload(workerEnv, "version = 2\n");
    await register(workerEnv, { "/p/config.py": v2.sha });
    await chat(workerEnv, { prompt: "three", continuation_id: id, absolute_file_paths: ["/p/config.py"] });
    expect(promptOf(sent[2]!)).toContain("version = 2");
  });

  it("sends an uploaded image to a vision model", async () => {
    const sent = mockUpstream();
    const workerEnv = testEnv(GEMINI);
    const image = await upload(workerEnv, PNG, { "content-type": "image/png" });
    await register(workerEnv, { "/shots/a.png": image.sha });
    const result = await chat(workerEnv, { prompt: "what is this", model: "flash", images: ["/shots/a.png"] });
    expect(result.isError).toBe(false);
    expect(promptOf(sent[0]!)).toContain(btoa(String.fromCharCode(...PNG)));
  });
});
