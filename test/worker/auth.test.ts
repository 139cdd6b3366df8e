/**
 * Who may use the server: loopback only without TEAM_TOKENS (unless ALLOW_UNAUTHENTICATED),
 * team tokens with rotation, the 401 challenge and protected resource metadata that lead MCP
 * clients to OAuth, OAuth access tokens bound to this origin's /mcp and to a listed team token,
 * and rate limits per team and per token. Attack tests perform the attack and show it fails.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { authorizeUrl, codeFrom, exchangeCode, openConsent, pkce, registerClient, signIn, submitConsent } from "../support/oauth-flow";
import { callWorker, connectClient, mcpPost, rpcMessages, testEnv } from "./helpers";
import { mockUpstream } from "./upstream-mock";
import { parseConfig } from "../../src/core/config.ts";
import type { Env } from "../../src/core/env.ts";

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** An env whose TEAM_TOKENS lists these tokens (plain token -> team). */
async function withTokens(tokens: Record<string, string>, vars: Record<string, string> = {}): Promise<Env> {
  const entries = await Promise.all(Object.entries(tokens).map(async ([token, team]) => [await sha256Hex(token), team] as const));
  return testEnv({ TEAM_TOKENS: JSON.stringify(Object.fromEntries(entries)), ...vars });
}

/** A team id no other test uses (rate-limit objects keep their counts between tests). */
function uniqueTeam(name: string): string {
  return `${name}-${crypto.randomUUID().slice(0, 8)}`;
}

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
};
const toolsList = { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} };

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

function threads(origin: string, headers: Record<string, string> = {}): Request {
  return new Request(`${origin}/v1/threads`, { headers });
}

const GEMINI = { GEMINI_API_KEY: "test-key", GEMINI_BASE_URL: "https://gemini.test" };

/** A tool call over MCP with a bearer token: whether it was refused, and its text. */
async function callToolWith(token: string, workerEnv: Env, name: string, args: Record<string, unknown>): Promise<{ isError: boolean; text: string }> {
  const client = await connectClient(workerEnv, bearer(token));
  const result = await client.callTool({ name, arguments: args });
  await client.close();
  return { isError: result.isError === true, text: (result.content as Array<{ text: string }>)[0]?.text ?? "" };
}

function chatWith(token: string, workerEnv: Env) {
  return callToolWith(token, workerEnv, "chat", { prompt: "Is this lock needed?", model: "flash" });
}

afterEach(() => {
  vi.restoreAllMocks();
});

const PUBLIC = "https://zen.example.com";
const PUBLIC_HOST = { ALLOWED_HOSTNAMES: "zen.example.com" };

/** A client address no other test uses (per-address budgets keep their counts between tests). */
function uniqueAddress(): string {
  const [a, b] = crypto.getRandomValues(new Uint8Array(2));
  return `198.18.${a}.${b}`;
}

/** Requests from one client address, as the runtime reports it. */
function fetchFrom(workerEnv: Env, address: string) {
  return (request: Request) => {
    const sent = new Request(request);
    sent.headers.set("cf-connecting-ip", address);
    return callWorker(sent, workerEnv);
  };
}

/** A client at an address of its own, so its sign-in steps count against no other test's budget. */
function fetchIn(workerEnv: Env) {
  return fetchFrom(workerEnv, uniqueAddress());
}

describe("safe by default: without TEAM_TOKENS only loopback is served", () => {
  it("answers a public host with 401 naming TEAM_TOKENS, how to make a token, and ALLOW_UNAUTHENTICATED", async () => {
    const workerEnv = testEnv(PUBLIC_HOST);
    for (const request of [
      new Request(`${PUBLIC}/mcp`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(initialize) }),
      threads(PUBLIC),
      new Request(`${PUBLIC}/v1/blobs/${"a".repeat(64)}`, { method: "PUT", body: "x" }),
      new Request(`${PUBLIC}/authorize`),
      new Request(`${PUBLIC}/no-such-route`),
    ]) {
      const response = await callWorker(request, workerEnv);
      expect(response.status, request.url).toBe(401);
      expect(response.headers.get("www-authenticate")).toContain("Bearer");
      const body = (await response.json()) as { error: string; message: string };
      expect(body.error).toBe("unauthorized");
      expect(body.message).toContain("TEAM_TOKENS");
      expect(body.message).toContain("npm run token -- <team>");
      expect(body.message).toContain("ALLOW_UNAUTHENTICATED=true");
    }
  });

  it("serves 127.0.0.1, localhost and [::1] without a token", async () => {
    for (const origin of ["http://127.0.0.1:8787", "http://localhost:8787", "http://[::1]:8787"]) {
      const response = await callWorker(new Request(`${origin}/v1/threads`));
      expect(response.status, origin).toBe(200);
      expect(await response.json()).toMatchObject({ team: "default" });
    }
  });

  it("attack: a loopback Host over a connection from elsewhere, or relayed by a proxy, is refused", async () => {
    const lockedOut = async (request: Request, what: string) => {
      const response = await callWorker(request);
      expect(response.status, what).toBe(401);
      expect(((await response.json()) as { message: string }).message, what).toContain("TEAM_TOKENS");
    };
    // A client elsewhere (a server started with --ip 0.0.0.0, or behind a proxy on another host)
    // naming a loopback host, in any spelling.
    for (const origin of ["http://127.0.0.1:8787", "http://LOCALHOST:8787", "http://[::1]:8787"]) {
      await lockedOut(new Request(`${origin}/v1/threads`, { headers: { "cf-connecting-ip": "198.51.100.7" } }), origin);
      await lockedOut(mcpPost(initialize, { host: new URL(origin).host, "cf-connecting-ip": "2001:db8::7" }), `${origin} over IPv6`);
    }
    // A proxy on this machine relaying a request from elsewhere, as it says in its headers.
    const relays: Array<Record<string, string>> = [{ "x-forwarded-for": "203.0.113.9" }, { forwarded: "for=203.0.113.9" }, { "x-real-ip": "203.0.113.9" }];
    for (const relayed of relays) {
      await lockedOut(new Request("http://127.0.0.1:8787/v1/threads", { headers: relayed }), JSON.stringify(relayed));
    }
    // No client address at all: the runtime did not say where the connection came from.
    await lockedOut(new Request("http://127.0.0.1:8787/v1/threads", { headers: { "cf-connecting-ip": "" } }), "no address");
    // The same requests from this machine are served.
    expect((await callWorker(new Request("http://LOCALHOST:8787/v1/threads", { headers: { "cf-connecting-ip": "::1" } }))).status).toBe(200);
  });

  it("serves a public host without a token when ALLOW_UNAUTHENTICATED=true", async () => {
    const workerEnv = testEnv({ ...PUBLIC_HOST, ALLOW_UNAUTHENTICATED: "true" });
    const response = await callWorker(threads(PUBLIC), workerEnv);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ team: "default" });
    const health = (await (await callWorker(new Request(`${PUBLIC}/health`), workerEnv)).json()) as Record<string, unknown>;
    expect(String(health.teams)).toContain("ALLOW_UNAUTHENTICATED");
  });

  it("parses ALLOW_UNAUTHENTICATED strictly, and refuses it beside TEAM_TOKENS", async () => {
    for (const value of ["yes", "TRUE", "1"]) {
      const response = await callWorker(threads(PUBLIC), testEnv({ ...PUBLIC_HOST, ALLOW_UNAUTHENTICATED: value }));
      expect(response.status, value).toBe(503);
      expect(await response.json()).toMatchObject({ error: "configuration", message: "ALLOW_UNAUTHENTICATED must be true or false." });
    }
    const both = await callWorker(threads(PUBLIC), await withTokens({ t: "team-a" }, { ...PUBLIC_HOST, ALLOW_UNAUTHENTICATED: "true" }));
    expect(both.status).toBe(503);
    expect(((await both.json()) as { message: string }).message).toMatch(/ALLOW_UNAUTHENTICATED.*TEAM_TOKENS/);
  });

  it("attack: a public host cannot reach a tool without a token", async () => {
    const response = await callWorker(
      new Request(`${PUBLIC}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "version", arguments: {} } }),
      }),
      testEnv(PUBLIC_HOST),
    );
    expect(response.status).toBe(401);
    expect(await response.text()).not.toContain("zen-mcp-worker version");
  });
});

describe("/health", () => {
  const MINIMAL_KEYS = ["status", "version"];

  it("shows only status and version to a caller who is not authenticated", async () => {
    const tokens = await withTokens({ "health-token": "team-h" }, { ...PUBLIC_HOST, GEMINI_API_KEY: "k" });
    for (const [request, workerEnv] of [
      [new Request(`${PUBLIC}/health`), testEnv({ ...PUBLIC_HOST, GEMINI_API_KEY: "k" })],
      [new Request(`${PUBLIC}/health`), tokens],
      [new Request("http://localhost/health"), tokens],
      [new Request(`${PUBLIC}/health`, { headers: bearer("wrong") }), tokens],
    ] as const) {
      const response = await callWorker(request, workerEnv);
      expect(response.status).toBe(200);
      const body = (await response.json()) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(MINIMAL_KEYS);
      expect(body.status).toBe("ok");
    }
  });

  it("shows mode, providers, model count and caches to a valid token, and on loopback without TEAM_TOKENS", async () => {
    const tokens = await withTokens({ "health-token": "team-h" }, { ...PUBLIC_HOST, GEMINI_API_KEY: "k" });
    const withToken = (await (await callWorker(new Request(`${PUBLIC}/health`, { headers: bearer("health-token") }), tokens)).json()) as Record<string, unknown>;
    expect(withToken).toMatchObject({ status: "ok", teams: "multi-team (TEAM_TOKENS)", providers: ["google"] });
    expect(withToken.models).toBeGreaterThan(0);
    expect(withToken.caches).toBeDefined();
    const local = (await (await callWorker(new Request("http://localhost/health"), testEnv({ GEMINI_API_KEY: "k" }))).json()) as Record<string, unknown>;
    expect(local).toMatchObject({ providers: ["google"], teams: expect.stringContaining("loopback") });
  });
});

describe("team tokens", () => {
  it("accepts every token of a team (rotation) and refuses a removed one", async () => {
    const team = uniqueTeam("rotating");
    const before = await withTokens({ "old-token": team, "new-token": team });
    for (const token of ["old-token", "new-token"]) {
      const response = await callWorker(threads("http://localhost", bearer(token)), before);
      expect(response.status, token).toBe(200);
      expect(await response.json()).toMatchObject({ team });
      expect((await callWorker(mcpPost(initialize, bearer(token)), before)).status).toBe(200);
    }
    const after = await withTokens({ "new-token": team });
    const removed = await callWorker(mcpPost(initialize, bearer("old-token")), after);
    expect(removed.status).toBe(401);
    expect(removed.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect((await callWorker(threads("http://localhost", bearer("old-token")), after)).status).toBe(401);
    expect((await callWorker(mcpPost(initialize, bearer("new-token")), after)).status).toBe(200);
  });

  it("challenges /mcp with the protected resource metadata (RFC 9728) and a JSON message", async () => {
    const workerEnv = await withTokens({ "t-1": "team-a" });
    const missing = await callWorker(mcpPost(initialize), workerEnv);
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toBe(
      'Bearer realm="zen-mcp-worker", resource_metadata="http://localhost/.well-known/oauth-protected-resource"',
    );
    expect(await missing.json()).toMatchObject({ error: "unauthorized", message: expect.stringContaining("Authorization: Bearer") });
    const wrong = await callWorker(mcpPost(initialize, bearer("t-2")), workerEnv);
    expect(wrong.headers.get("www-authenticate")).toContain('error="invalid_token"');
    const malformed = await callWorker(mcpPost(initialize, { authorization: "Basic dTpw" }), workerEnv);
    expect(malformed.status).toBe(401);
    // A token shaped like an OAuth one is looked up, at every loopback origin, and refused.
    for (const origin of ["http://localhost", "http://127.0.0.1:8787", "http://[::1]:8787"]) {
      const forged = await callWorker(
        new Request(`${origin}/mcp`, { method: "POST", headers: { "content-type": "application/json", ...bearer("team-a.x:grant:secret") }, body: "{}" }),
        workerEnv,
      );
      expect(forged.status, origin).toBe(401);
      expect(forged.headers.get("www-authenticate")).toContain(`resource_metadata="${origin}/.well-known/oauth-protected-resource"`);
    }
    // The REST routes take team tokens only, so their challenge names no OAuth metadata.
    const rest = await callWorker(threads("http://localhost"), workerEnv);
    expect(rest.headers.get("www-authenticate")).toBe('Bearer realm="zen-mcp-worker"');
  });

  it("serves the protected resource metadata at the root and under /mcp", async () => {
    const local = await withTokens({ "t-1": "team-a" });
    for (const path of ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]) {
      const response = await callWorker(new Request(`http://localhost${path}`), local);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        resource: "http://localhost/mcp",
        authorization_servers: ["http://localhost"],
        bearer_methods_supported: ["header"],
        resource_name: "Zen MCP server",
      });
    }
    const deployed = await withTokens({ "t-1": "team-a" }, PUBLIC_HOST);
    const response = await callWorker(new Request(`${PUBLIC}/.well-known/oauth-protected-resource`), deployed);
    expect(await response.json()).toMatchObject({ resource: `${PUBLIC}/mcp`, authorization_servers: [PUBLIC] });
    const server = (await (await callWorker(new Request(`${PUBLIC}/.well-known/oauth-authorization-server`), deployed)).json()) as Record<string, unknown>;
    expect(server).toMatchObject({
      issuer: PUBLIC,
      authorization_endpoint: `${PUBLIC}/authorize`,
      token_endpoint: `${PUBLIC}/oauth/token`,
      registration_endpoint: `${PUBLIC}/oauth/register`,
      code_challenge_methods_supported: ["S256"],
    });
  });

  it("offers no OAuth sign-in without TEAM_TOKENS (no team to prove)", async () => {
    const response = await callWorker(new Request("http://localhost/.well-known/oauth-protected-resource"));
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ message: expect.stringContaining("TEAM_TOKENS") });
  });
});

describe("OAuth access tokens", () => {
  it("authenticate /mcp for the team whose token signed in", async () => {
    const team = uniqueTeam("oauth");
    const workerEnv = await withTokens({ "person-token": team });
    const { accessToken } = await signIn(fetchIn(workerEnv), "http://localhost", "person-token");
    const response = await callWorker(mcpPost(toolsList, bearer(accessToken)), workerEnv);
    expect(response.status).toBe(200);
    const [message] = await rpcMessages(response);
    expect(JSON.stringify(message?.result)).toContain("listmodels");
  });

  it("attack: a client name carrying markup is escaped on the consent page, which cannot be framed", async () => {
    const workerEnv = await withTokens({ "person-token": uniqueTeam("xss") });
    const client = await registerClient(fetchIn(workerEnv), "http://localhost", { client_name: '<script>alert("owned")</script>' });
    const { challenge } = await pkce();
    const url = authorizeUrl("http://localhost", client, { challenge, method: "S256" });
    const form = await openConsent(fetchIn(workerEnv), url);
    expect(form.html).not.toContain("<script>");
    expect(form.html).toContain("&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;");
    const page = await callWorker(new Request(url), workerEnv);
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  });

  it("attack: an access token issued at one origin is refused at another (audience bound to its /mcp)", async () => {
    const workerEnv = await withTokens({ "person-token": uniqueTeam("aud") }, { ALLOWED_HOSTNAMES: "zen.example.com" });
    const { accessToken } = await signIn(fetchIn(workerEnv), "http://localhost", "person-token");
    expect((await callWorker(mcpPost(toolsList, bearer(accessToken)), workerEnv)).status).toBe(200);
    for (const url of ["http://127.0.0.1/mcp", `${PUBLIC}/mcp`]) {
      const elsewhere = await callWorker(
        new Request(url, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...bearer(accessToken) },
          body: JSON.stringify(toolsList),
        }),
        workerEnv,
      );
      expect(elsewhere.status, url).toBe(401);
      expect(elsewhere.headers.get("www-authenticate")).toContain('error="invalid_token"');
    }
  });

  it("attack: an access token is refused by the REST routes (not its resource)", async () => {
    const workerEnv = await withTokens({ "person-token": uniqueTeam("rest") });
    const { accessToken } = await signIn(fetchIn(workerEnv), "http://localhost", "person-token");
    expect((await callWorker(threads("http://localhost", bearer(accessToken)), workerEnv)).status).toBe(401);
    const blob = await callWorker(new Request(`http://localhost/v1/blobs/${"b".repeat(64)}`, { method: "PUT", headers: bearer(accessToken), body: "x" }), workerEnv);
    expect(blob.status).toBe(401);
  });

  it("attack: removing the team token from TEAM_TOKENS ends the sign-ins made with it", async () => {
    const team = uniqueTeam("revoked");
    const before = await withTokens({ "leaving-token": team, "staying-token": team });
    const { accessToken } = await signIn(fetchIn(before), "http://localhost", "leaving-token");
    expect((await callWorker(mcpPost(toolsList, bearer(accessToken)), before)).status).toBe(200);
    const after = await withTokens({ "staying-token": team });
    expect((await callWorker(mcpPost(toolsList, bearer(accessToken)), after)).status).toBe(401);
    // Moving a token to another team does not carry its sign-ins along either.
    const moved = await withTokens({ "leaving-token": uniqueTeam("other") });
    expect((await callWorker(mcpPost(toolsList, bearer(accessToken)), moved)).status).toBe(401);
  });
});

describe("attacks on the sign-in's storage, and token guessing", () => {
  /** The OAuth clients stored now, with when each expires (seconds since the epoch). */
  async function storedClients(workerEnv: Env): Promise<Map<string, number | undefined>> {
    const listed = await workerEnv.OAUTH_KV.list({ prefix: "client:" });
    return new Map(listed.keys.map((key) => [key.name.slice("client:".length), key.expiration]));
  }

  function register(fetch: (request: Request) => Promise<Response>, body: string): Promise<Response> {
    return fetch(new Request("http://localhost/oauth/register", { method: "POST", headers: { "content-type": "application/json" }, body }));
  }

  const metadata = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({ client_name: "Flood", redirect_uris: ["http://127.0.0.1:33418/callback"], token_endpoint_auth_method: "none", ...extra });

  it("attack: registrations and authorization pages from one address are limited, and the refused ones store nothing", async () => {
    const workerEnv = await withTokens({ "person-token": uniqueTeam("flood") }, { RATE_LIMIT_PER_ADDRESS_PER_MINUTE: "4" });
    const flooder = fetchFrom(workerEnv, uniqueAddress());
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const before = (await storedClients(workerEnv)).size;
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await register(flooder, metadata())).status);
      expect(statuses).toEqual([201, 201, 201, 201, 429, 429, 429, 429]);
      expect((await storedClients(workerEnv)).size).toBe(before + 4);
      const refused = await register(flooder, metadata());
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await refused.json()).toMatchObject({ error: "rate_limited", message: expect.stringContaining("RATE_LIMIT_PER_ADDRESS_PER_MINUTE") });
      // Each authorization page stores a consent record: the same budget pays for it.
      const page = await flooder(new Request("http://localhost/authorize?response_type=code&client_id=x"));
      expect(page.status).toBe(429);
      // Another address is not held back by this one.
      const elsewhere = fetchIn(workerEnv);
      const client = await registerClient(elsewhere, "http://localhost");
      const { challenge } = await pkce();
      expect((await openConsent(elsewhere, authorizeUrl("http://localhost", client, { challenge, method: "S256" }))).handle).toBeTruthy();
    } finally {
      vi.useRealTimers();
    }
  });

  it("attack: a registration with 1 MB of redirect_uris, or with too many or too long fields, stores nothing", async () => {
    const workerEnv = await withTokens({ "person-token": uniqueTeam("big-client") });
    const before = (await storedClients(workerEnv)).size;
    const huge = await register(fetchIn(workerEnv), metadata({ redirect_uris: [`http://127.0.0.1:33418/${"a".repeat(1024 * 1024)}`] }));
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ error: "invalid_client_metadata" });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ redirect_uris: Array.from({ length: 11 }, (_, i) => `http://127.0.0.1:33418/cb${i}`) }, "redirect_uris may list at most 10 entries."],
      [{ redirect_uris: [`http://127.0.0.1:33418/${"b".repeat(2_000)}`] }, "redirect_uris may be at most 2000 characters long."],
      [{ client_name: "n".repeat(201) }, "client_name may be at most 200 characters long."],
      [{ contacts: Array.from({ length: 11 }, (_, i) => `c${i}@example.com`) }, "contacts may list at most 10 entries."],
    ];
    for (const [extra, message] of cases) {
      const response = await register(fetchIn(workerEnv), metadata(extra));
      expect(response.status, message).toBe(400);
      expect(await response.json()).toMatchObject({ error: "invalid_client_metadata", error_description: message });
    }
    expect((await storedClients(workerEnv)).size).toBe(before);
  });

  it("a client that never completes a sign-in is gone within the hour; one that signs in lives as long as its sign-in", async () => {
    const workerEnv = await withTokens({ "person-token": uniqueTeam("lifetimes") });
    const now = Date.now() / 1_000;
    const unused = await registerClient(fetchIn(workerEnv), "http://localhost");
    const { client: used } = await signIn(fetchIn(workerEnv), "http://localhost", "person-token");
    const clients = await storedClients(workerEnv);
    expect(clients.get(unused.client_id)).toBeLessThanOrEqual(now + 3_600 + 60);
    expect(clients.get(used.client_id)).toBeGreaterThan(now + 29 * 86_400);
  });

  it("attack: wrong team tokens from one address are limited, and that address's tokens are then not checked", async () => {
    const team = uniqueTeam("guessing");
    const workerEnv = await withTokens({ "right-token": team }, { RATE_LIMIT_PER_ADDRESS_PER_MINUTE: "3" });
    const guesser = fetchFrom(workerEnv, uniqueAddress());
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const statuses: number[] = [];
      for (const guess of ["guess-1", "guess-2", "guess-3", "guess-4"]) statuses.push((await guesser(threads("http://localhost", bearer(guess)))).status);
      expect(statuses).toEqual([401, 401, 401, 429]);
      // At /mcp, where an OAuth token is looked up too, and with the right token: not checked at all.
      const right = await guesser(mcpPost(initialize, bearer("right-token")));
      expect(right.status).toBe(429);
      expect(Number(right.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await right.json()).toMatchObject({ error: "rate_limited", message: expect.stringContaining("failed authentications") });
      // Valid tokens cost the budget nothing, and another address is served.
      expect((await fetchIn(workerEnv)(threads("http://localhost", bearer("right-token")))).status).toBe(200);
    } finally {
      vi.useRealTimers();
    }
  });

  it("attack: a refresh for a team token removed from TEAM_TOKENS mints nothing, and ends the sign-in", async () => {
    const team = uniqueTeam("refresh");
    const before = await withTokens({ "leaving-token": team, "staying-token": team });
    const { client, refreshToken } = await signIn(fetchIn(before), "http://localhost", "leaving-token");
    expect(refreshToken).toBeTruthy();
    const refresh = (workerEnv: Env) =>
      fetchIn(workerEnv)(
        new Request("http://localhost/oauth/token", {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken ?? "", client_id: client.client_id }),
        }),
      );
    const after = await withTokens({ "staying-token": team });
    const refused = await refresh(after);
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: "invalid_grant", error_description: expect.stringContaining("sign in again") });
    expect(body).not.toHaveProperty("access_token");
    // The grant is gone: putting the token back does not bring the sign-in back.
    expect((await refresh(before)).status).toBe(400);
  });

  it("codes and tokens name neither the team nor the team token, and differ between sign-ins", async () => {
    const team = uniqueTeam("opaque");
    const workerEnv = await withTokens({ "person-token": team });
    const digest = await sha256Hex("person-token");
    const userIds: string[] = [];
    for (let i = 0; i < 2; i++) {
      const fetch = fetchIn(workerEnv);
      const client = await registerClient(fetch, "http://localhost");
      const { verifier, challenge } = await pkce();
      const form = await openConsent(fetch, authorizeUrl("http://localhost", client, { challenge, method: "S256" }));
      const code = codeFrom(await submitConsent(fetch, form, { team_token: "person-token" }));
      const tokens = (await (await exchangeCode(fetch, "http://localhost", client, code, verifier)).json()) as Record<string, string>;
      for (const issued of [code, tokens["access_token"] ?? "", tokens["refresh_token"] ?? ""]) {
        expect(issued).not.toContain(team);
        for (let at = 0; at + 8 <= digest.length; at += 4) expect(issued).not.toContain(digest.slice(at, at + 8));
      }
      userIds.push(code.split(":")[0] ?? "");
    }
    expect(userIds[0]).not.toBe(userIds[1]);
  });
});

describe("rate limits", () => {
  it("answers 429 with Retry-After and a JSON message past a team's request bound", async () => {
    const team = uniqueTeam("limited");
    const workerEnv = await withTokens({ "rl-token": team }, { RATE_LIMIT_REQUESTS_PER_MINUTE: "1" });
    expect((await callWorker(threads("http://localhost", bearer("rl-token")), workerEnv)).status).toBe(200);
    for (const request of [threads("http://localhost", bearer("rl-token")), mcpPost(initialize, bearer("rl-token"))]) {
      const limited = await callWorker(request, workerEnv);
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
      const body = (await limited.json()) as { error: string; message: string };
      expect(body.error).toBe("rate_limited");
      expect(body.message).toContain("RATE_LIMIT_REQUESTS_PER_MINUTE");
    }
  });

  it("attack: one team exhausting its bound does not limit another team", async () => {
    const noisy = uniqueTeam("noisy");
    const quiet = uniqueTeam("quiet");
    const workerEnv = await withTokens({ "noisy-token": noisy, "quiet-token": quiet }, { RATE_LIMIT_REQUESTS_PER_MINUTE: "2" });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await callWorker(threads("http://localhost", bearer("noisy-token")), workerEnv)).status);
    expect(statuses).toEqual([200, 200, 429, 429]);
    const response = await callWorker(threads("http://localhost", bearer("quiet-token")), workerEnv);
    expect(response.status).toBe(200);
  });

  it("limits the model calls of each token of a team on its own (RATE_LIMIT_PER_TOKEN_PER_MINUTE), refused before any model is called", async () => {
    const sent = mockUpstream(() => "fine");
    const team = uniqueTeam("token-models");
    const workerEnv = await withTokens({ "loop-token": team, "other-token": team }, { ...GEMINI, RATE_LIMIT_PER_MINUTE: "100", RATE_LIMIT_PER_TOKEN_PER_MINUTE: "1" });
    expect((await chatWith("loop-token", workerEnv)).isError).toBeFalsy();
    const refused = await chatWith("loop-token", workerEnv);
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain("RATE_LIMIT_PER_TOKEN_PER_MINUTE");
    expect(refused.text).toContain("No model was called");
    expect(sent).toHaveLength(1);
    expect((await chatWith("other-token", workerEnv)).isError).toBeFalsy();
    // A call that reaches no model spends nothing: the limited token still lists its threads and lists tools.
    expect((await callWorker(threads("http://localhost", bearer("loop-token")), workerEnv)).status).toBe(200);
    expect((await callWorker(mcpPost({ jsonrpc: "2.0", id: 2, method: "tools/list" }, bearer("loop-token")), workerEnv)).status).toBe(200);
  });

  it("limits a team's model calls (RATE_LIMIT_PER_MINUTE), and a consensus panel counts as one call", async () => {
    const sent = mockUpstream(() => "verdict");
    const team = uniqueTeam("team-models");
    const workerEnv = await withTokens({ "panel-token": team }, { ...GEMINI, OPENAI_API_KEY: "k", OPENAI_BASE_URL: "https://openai.test/v1", RATE_LIMIT_PER_MINUTE: "1", RATE_LIMIT_PER_TOKEN_PER_MINUTE: "0" });
    const panel = await callToolWith("panel-token", workerEnv, "consensus", {
      step: "Move the queue to Postgres", step_number: 1, total_steps: 1, next_step_required: false, findings: "It is a dependency already",
      models: [{ model: "flash", stance: "for" }, { model: "gpt-5", stance: "against" }], parallel: true,
    });
    expect(panel.isError).toBeFalsy();
    expect(sent).toHaveLength(2);
    const refused = await chatWith("panel-token", workerEnv);
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain("RATE_LIMIT_PER_MINUTE");
    expect(sent).toHaveLength(2);
  });

  it("counts an OAuth sign-in's model calls against the team token behind it", async () => {
    mockUpstream(() => "fine");
    const team = uniqueTeam("oauth-limit");
    const workerEnv = await withTokens({ "person-token": team }, { ...GEMINI, RATE_LIMIT_PER_MINUTE: "100", RATE_LIMIT_PER_TOKEN_PER_MINUTE: "1" });
    const { accessToken } = await signIn(fetchIn(workerEnv), "http://localhost", "person-token");
    expect((await chatWith(accessToken, workerEnv)).isError).toBeFalsy();
    expect((await chatWith("person-token", workerEnv)).text).toContain("RATE_LIMIT_PER_TOKEN_PER_MINUTE");
  });

  it("under the default limits, 200 sessions opening at once and 200 chats with one token get no refusal", async () => {
    mockUpstream(() => "fine");
    const team = uniqueTeam("crowd");
    const workerEnv = await withTokens({ "crowd-token": team }, GEMINI);
    const sessions = await Promise.all(Array.from({ length: 200 }, () => connectClient(workerEnv, bearer("crowd-token"))));
    const answers = await Promise.all(sessions.map((client, i) => client.callTool({ name: "chat", arguments: { prompt: `question ${i}`, model: "flash" } })));
    expect(answers.filter((answer) => answer.isError)).toEqual([]);
    await Promise.all(sessions.map((client) => client.close()));
  });

  it("local mode (no TEAM_TOKENS) has no limit unless a variable sets one: the limiter is never asked, a limit that is set holds, and a server open to others keeps the defaults", async () => {
    const sent = mockUpstream(() => "fine");
    const local = testEnv(GEMINI);
    let limiterCalls = 0;
    const limiter = local.RATE_LIMITER;
    local.RATE_LIMITER = new Proxy(limiter, {
      get: (target, property) => (property === "getByName" ? (name: string) => (limiterCalls++, target.getByName(name)) : Reflect.get(target, property)),
    });
    for (let i = 0; i < 3; i++) {
      const client = await connectClient(local);
      expect((await client.callTool({ name: "chat", arguments: { prompt: `local ${i}`, model: "flash" } })).isError).toBeFalsy();
      await client.close();
    }
    expect((await callWorker(threads("http://localhost"), local)).status).toBe(200);
    expect(limiterCalls).toBe(0);
    expect(sent).toHaveLength(3);

    const limited = testEnv({ ...GEMINI, RATE_LIMIT_PER_MINUTE: "1" });
    const chat = async () => {
      const client = await connectClient(limited);
      const result = await client.callTool({ name: "chat", arguments: { prompt: "limited", model: "flash" } });
      await client.close();
      return { isError: result.isError === true, text: (result.content as Array<{ text: string }>)[0]?.text ?? "" };
    };
    expect((await chat()).isError).toBe(false);
    const refused = await chat();
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain("RATE_LIMIT_PER_MINUTE");
    expect(sent).toHaveLength(4);

    // A server opened to others without tokens (ALLOW_UNAUTHENTICATED) is not local mode: the defaults hold.
    const open = parseConfig({ ALLOW_UNAUTHENTICATED: "true" }).rateLimits;
    expect(open).toEqual({ teamPerMinute: 600, tokenPerMinute: 300, requestsPerMinute: 6_000, addressPerMinute: 30 });
    expect(parseConfig({}).rateLimits).toEqual({ teamPerMinute: 0, tokenPerMinute: 0, requestsPerMinute: 0, addressPerMinute: 0 });
  });

  it("grants a busy isolate requests in batches: one limiter call per batch, and the limit still holds", async () => {
    const team = uniqueTeam("batched");
    const workerEnv = await withTokens({ "batch-token": team }, { RATE_LIMIT_REQUESTS_PER_MINUTE: "40" });
    let limiterCalls = 0;
    const limiter = workerEnv.RATE_LIMITER;
    workerEnv.RATE_LIMITER = new Proxy(limiter, {
      get: (target, property) =>
        property === "getByName"
          ? (name: string) => {
              limiterCalls++;
              return target.getByName(name);
            }
          : Reflect.get(target, property),
    });
    // The clock stands still, so no grant expires and no bucket refills while the test runs.
    vi.useFakeTimers({ toFake: ["Date"] });
    const statuses: number[] = [];
    try {
      for (let i = 0; i < 42; i++) statuses.push((await callWorker(threads("http://localhost", bearer("batch-token")), workerEnv)).status);
    } finally {
      vi.useRealTimers();
    }
    // 40 a minute, granted one, then two at a time (a twentieth) once the isolate is busy: the 41st request is refused.
    expect(statuses.filter((status) => status === 200)).toHaveLength(40);
    expect(statuses.slice(40)).toEqual([429, 429]);
    expect(limiterCalls).toBeLessThanOrEqual(23);
  });

  it("attack: a burst of concurrent requests from one isolate gets no more than the limit", async () => {
    const team = uniqueTeam("burst");
    const workerEnv = await withTokens({ "burst-token": team }, { RATE_LIMIT_REQUESTS_PER_MINUTE: "40" });
    vi.useFakeTimers({ toFake: ["Date"] });
    let statuses: number[];
    try {
      statuses = await Promise.all(
        Array.from({ length: 60 }, async () => (await callWorker(threads("http://localhost", bearer("burst-token")), workerEnv)).status),
      );
    } finally {
      vi.useRealTimers();
    }
    expect(statuses.filter((status) => status === 200)).toHaveLength(40);
    expect(statuses.filter((status) => status === 429)).toHaveLength(20);
  });

  it("attack: a limiter that cannot be reached lets requests through for a short while only, then 503 with Retry-After, logged once", async () => {
    const team = uniqueTeam("unreachable");
    const workerEnv = await withTokens({ "flood-token": team }, { RATE_LIMIT_REQUESTS_PER_MINUTE: "1000" });
    const limiter = workerEnv.RATE_LIMITER;
    // What a flood does to the limiter's object: every call to it fails.
    workerEnv.RATE_LIMITER = new Proxy(limiter, {
      get: (target, property) =>
        property === "getByName" ? () => ({ take: () => Promise.reject(new Error("Durable Object is overloaded")) }) : Reflect.get(target, property),
    });
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    vi.useFakeTimers({ toFake: ["Date"] });
    const status = async () => (await callWorker(threads("http://localhost", bearer("flood-token")), workerEnv)).status;
    try {
      expect([await status(), await status()]).toEqual([200, 200]);
      vi.setSystemTime(Date.now() + 9_000);
      expect(await status()).toBe(200);
      vi.setSystemTime(Date.now() + 2_000);
      const refused = await callWorker(mcpPost(initialize, bearer("flood-token")), workerEnv);
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("10");
      expect(await refused.json()).toMatchObject({ error: "rate_limiter_unavailable", message: expect.stringContaining("Retry in 10 s") });
      expect(await status()).toBe(503);
      expect(logged.mock.calls.filter(([line]) => String(line).includes("rate_limiter_unreachable"))).toHaveLength(1);
      // Once the limiter answers again, so does the server.
      workerEnv.RATE_LIMITER = limiter;
      expect(await status()).toBe(200);
    } finally {
      vi.useRealTimers();
      logged.mockRestore();
    }
  });

  it("limits nothing when every limit is 0", async () => {
    const workerEnv = await withTokens({ "free-token": uniqueTeam("free") }, { RATE_LIMIT_PER_MINUTE: "0", RATE_LIMIT_PER_TOKEN_PER_MINUTE: "0", RATE_LIMIT_REQUESTS_PER_MINUTE: "0" });
    for (let i = 0; i < 5; i++) expect((await callWorker(threads("http://localhost", bearer("free-token")), workerEnv)).status).toBe(200);
  });

  it("refuses a limit that is not a whole number", async () => {
    const response = await callWorker(threads("http://localhost"), testEnv({ RATE_LIMIT_PER_MINUTE: "lots" }));
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ message: expect.stringContaining("RATE_LIMIT_PER_MINUTE") });
  });
});
