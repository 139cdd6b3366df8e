/**
 * The status page inside workerd: what anyone sees (health and version), signing in with a team
 * token into an HttpOnly SameSite=Strict session cookie checked on every request, the team view
 * and a thread's turns, and the attacks on it (cross-site form posts, another team's thread, a
 * revoked or forged cookie, markup in prompts and answers, framing). Real DOs, real KV.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/core/env.ts";
import { callWorker, connectClient, testEnv } from "./helpers";
import { mockUpstream } from "./upstream-mock";

afterEach(() => {
  vi.restoreAllMocks();
});

const PROVIDERS = { GEMINI_API_KEY: "k", GEMINI_BASE_URL: "https://gemini.test", OPENAI_API_KEY: "k", OPENAI_BASE_URL: "https://openai.test/v1" };
const LOCAL = "http://localhost";

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Team ids no other test uses (threads, usage and rate limits live in per-team objects). */
function uniqueTeam(name: string): string {
  return `${name}-${crypto.randomUUID().slice(0, 8)}`;
}

/** An env where each team has the token `token-<team>`. */
async function teamsEnv(teams: string[], vars: Record<string, string> = {}): Promise<Env> {
  const tokens = Object.fromEntries(await Promise.all(teams.map(async (team) => [await sha256Hex(`token-${team}`), team])));
  return testEnv({ ...PROVIDERS, TEAM_TOKENS: JSON.stringify(tokens), ...vars });
}

function signInRequest(token: string, headers: Record<string, string> = { origin: LOCAL }, origin = LOCAL): Request {
  return new Request(`${origin}/`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams({ team_token: token }),
  });
}

function page(path: string, cookie?: string, origin = LOCAL): Request {
  return new Request(`${origin}${path}`, { headers: cookie ? { cookie } : {} });
}

/** Signs in through the form and returns the cookie a browser would send back. */
async function signIn(workerEnv: Env, team: string): Promise<string> {
  const response = await callWorker(signInRequest(`token-${team}`), workerEnv);
  expect(response.status).toBe(303);
  const setCookie = response.headers.get("set-cookie") ?? "";
  return setCookie.split(";")[0]!;
}

async function chat(workerEnv: Env, team: string, args: Record<string, unknown>) {
  const client = await connectClient(workerEnv, { authorization: `Bearer token-${team}` });
  const result = await client.callTool({ name: "chat", arguments: args });
  await client.close();
  const text = (result.content as Array<{ text: string }>)[0]?.text ?? "";
  expect(result.isError).not.toBe(true);
  return JSON.parse(text) as { continuation_offer: { continuation_id: string } };
}

describe("the public view", () => {
  it("shows anyone health and version, and nothing of providers or the auth mode", async () => {
    const workerEnv = await teamsEnv([uniqueTeam("a")]);
    const response = await callWorker(page("/"), workerEnv);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    const html = await response.text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain("zen-mcp-worker");
    expect(html).toContain("version 0.1.0");
    expect(html).toContain(">ok<");
    for (const hidden of ["google", "openai", "gemini", "gpt-5", "TEAM_TOKENS", "multi-team", "team default"]) expect(html).not.toContain(hidden);
    expect(html).toContain('name="team_token"');
  });

  it("cannot be framed, runs no script, loads nothing, and is not cached", async () => {
    const response = await callWorker(page("/"), await teamsEnv([uniqueTeam("a")]));
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    expect(response.headers.get("cache-control")).toBe("no-store");
    // A browser's form post then carries this page's origin (under no-referrer it would be "null").
    expect(response.headers.get("referrer-policy")).toBe("same-origin");
    // The page's own style carries the nonce its policy names; nothing else is allowed in.
    const nonce = /style-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(await response.text()).toContain(`<style nonce="${nonce}">`);
  });

  it("is locked like every route on a host other than loopback without TEAM_TOKENS", async () => {
    const response = await callWorker(page("/", undefined, "https://zen.example.com"), testEnv({ ...PROVIDERS, ALLOWED_HOSTNAMES: "zen.example.com" }));
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: "unauthorized", message: expect.stringContaining("TEAM_TOKENS") });
  });
});

describe("signing in", () => {
  it("keeps the team token in an HttpOnly, SameSite=Strict session cookie and shows the team view", async () => {
    const team = uniqueTeam("a");
    const workerEnv = await teamsEnv([team]);
    const response = await callWorker(signInRequest(`token-${team}`), workerEnv);
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/");
    const setCookie = response.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^zen_session=token-/);
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Strict");
    expect(setCookie).toContain("Path=/");
    // A session cookie: gone when the browser closes.
    expect(setCookie).not.toMatch(/Max-Age|Expires/i);

    const view = await callWorker(page("/", setCookie.split(";")[0]), workerEnv);
    const html = await view.text();
    expect(html).toContain(team);
    expect(html).toContain("google");
    expect(html).toContain("gemini-3.8-flash");
    expect(html).toContain('action="/sign-out"');
  });

  it("over https the cookie is Secure and __Host- prefixed", async () => {
    const team = uniqueTeam("a");
    const workerEnv = await teamsEnv([team], { ALLOWED_HOSTNAMES: "zen.example.com" });
    const origin = "https://zen.example.com";
    const response = await callWorker(signInRequest(`token-${team}`, { origin }, origin), workerEnv);
    expect(response.status).toBe(303);
    const setCookie = response.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^__Host-zen_session=/);
    expect(setCookie).toContain("Secure");
    const view = await callWorker(page("/", setCookie.split(";")[0], origin), workerEnv);
    expect(await view.text()).toContain(team);
  });

  it("refuses a wrong or empty token with a message, and sets no cookie", async () => {
    const workerEnv = await teamsEnv([uniqueTeam("a")]);
    const wrong = await callWorker(signInRequest("not-a-token"), workerEnv);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    expect(await wrong.text()).toContain("That team token is not valid on this server.");
    const empty = await callWorker(signInRequest("  "), workerEnv);
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain("Enter your team token.");
  });

  it("attack: refuses a sign-in posted from another site or another origin on this machine (login CSRF)", async () => {
    const team = uniqueTeam("a");
    const workerEnv = await teamsEnv([team]);
    const attempts: Array<Record<string, string>> = [
      { origin: "http://localhost:3000" },
      { origin: "http://127.0.0.1" },
      { "sec-fetch-site": "cross-site" },
      { "sec-fetch-site": "same-site" },
      {},
    ];
    for (const headers of attempts) {
      const response = await callWorker(signInRequest(`token-${team}`, headers), workerEnv);
      expect(response.status, JSON.stringify(headers)).toBe(403);
      expect(response.headers.get("set-cookie")).toBeNull();
      expect(await response.text()).toContain("sent from another site");
    }
    // A foreign site is refused before that, by the Host/Origin guard.
    const foreign = await callWorker(signInRequest(`token-${team}`, { origin: "https://evil.example" }), workerEnv);
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get("set-cookie")).toBeNull();
    // Same origin by Sec-Fetch-Site alone (a browser that sends no Origin) is accepted.
    const sameOrigin = await callWorker(signInRequest(`token-${team}`, { "sec-fetch-site": "same-origin" }), workerEnv);
    expect(sameOrigin.status).toBe(303);
  });

  it("attack: refuses a sign-out posted from another origin; the same origin's ends the session", async () => {
    const team = uniqueTeam("a");
    const workerEnv = await teamsEnv([team]);
    const cookie = await signIn(workerEnv, team);
    const post = (origin: string) => new Request(`${LOCAL}/sign-out`, { method: "POST", headers: { origin, cookie, "content-type": "application/x-www-form-urlencoded" } });
    const forged = await callWorker(post("http://localhost:3000"), workerEnv);
    expect(forged.status).toBe(403);
    expect(forged.headers.get("set-cookie")).toBeNull();
    const real = await callWorker(post(LOCAL), workerEnv);
    expect(real.status).toBe(303);
    expect(real.headers.get("set-cookie")).toMatch(/^zen_session=;.*Max-Age=0/);
  });

  it("attack: a cookie is checked on every request: a forged one shows nothing, a token removed from TEAM_TOKENS ends the session", async () => {
    const team = uniqueTeam("a");
    const before = await teamsEnv([team]);
    const cookie = await signIn(before, team);
    const forged = await callWorker(page("/", "zen_session=token-somebody-else"), before);
    const forgedHtml = await forged.text();
    expect(forgedHtml).not.toContain("google");
    expect(forgedHtml).toContain("no longer valid");
    expect(forged.headers.get("set-cookie")).toMatch(/Max-Age=0/);

    const rotated = await teamsEnv([uniqueTeam("other")]);
    const response = await callWorker(page("/", cookie), rotated);
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).not.toContain(team);
    expect(html).not.toContain("google");
    expect(html).toContain("team token is no longer valid here. Sign in again.");
  });

  it("counts the team's page views against its rate limit, as on /v1", async () => {
    const team = uniqueTeam("a");
    const workerEnv = await teamsEnv([team], { RATE_LIMIT_REQUESTS_PER_MINUTE: "2" });
    const cookie = await signIn(workerEnv, team);
    const statuses = [];
    for (let view = 0; view < 3; view++) statuses.push((await callWorker(page("/", cookie), workerEnv)).status);
    expect(statuses).toEqual([200, 200, 429]);
  });
});

describe("the team view", () => {
  it("on loopback without TEAM_TOKENS shows the full view without a token, and no sign-in", async () => {
    const response = await callWorker(page("/"), testEnv(PROVIDERS));
    const html = await response.text();
    expect(html).toContain("team <strong>default</strong>");
    expect(html).toContain("gemini-3.8-flash");
    expect(html).not.toContain('name="team_token"');
    expect(html).not.toContain("Sign out");
  });

  it("lists the team's own threads only, and another team's thread id is not found", async () => {
    mockUpstream(() => "A queue answer.");
    const [a, b] = [uniqueTeam("a"), uniqueTeam("b")];
    const workerEnv = await teamsEnv([a, b]);
    const started = await chat(workerEnv, a, { prompt: "Which queue library for team A?", model: "flash" });
    const threadId = started.continuation_offer.continuation_id;

    const cookieA = await signIn(workerEnv, a);
    const viewA = await (await callWorker(page("/", cookieA), workerEnv)).text();
    expect(viewA).toContain("Which queue library for team A?");
    expect(viewA).toContain(`href="/threads/${threadId}"`);
    const threadA = await callWorker(page(`/threads/${threadId}`, cookieA), workerEnv);
    expect(threadA.status).toBe(200);
    const threadHtml = await threadA.text();
    expect(threadHtml.match(/<article class="turn /g)).toHaveLength(2);
    expect(threadHtml).toContain("A queue answer.");
    expect(threadHtml).toContain("google/gemini-3.8-flash");

    const cookieB = await signIn(workerEnv, b);
    const viewB = await (await callWorker(page("/", cookieB), workerEnv)).text();
    expect(viewB).not.toContain("Which queue library for team A?");
    expect(viewB).toContain("No threads yet");
    const stolen = await callWorker(page(`/threads/${threadId}`, cookieB), workerEnv);
    expect(stolen.status).toBe(404);
    const stolenHtml = await stolen.text();
    expect(stolenHtml).toContain("This thread was not found");
    expect(stolenHtml).not.toContain("A queue answer.");

    // Without a session the thread page asks for one.
    const anonymous = await callWorker(page(`/threads/${threadId}`), workerEnv);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).toContain("Sign in with your team token to see this thread.");
    // A malformed id is not found either.
    expect((await callWorker(page("/threads/..%2F..%2Fhealth", cookieA), workerEnv)).status).toBe(404);
  });

  it("attack: escapes markup in prompts and answers, and collapses long turns", async () => {
    const answer = `</pre><script>alert("answer")</script>\n${"A long line of the answer.\n".repeat(60)}`;
    mockUpstream(() => answer);
    const team = uniqueTeam("a");
    const workerEnv = await teamsEnv([team]);
    const prompt = `<img src=x onerror=alert("title")> & "quotes"`;
    const started = await chat(workerEnv, team, { prompt, model: "flash" });
    const cookie = await signIn(workerEnv, team);
    const view = await (await callWorker(page("/", cookie), workerEnv)).text();
    expect(view).not.toContain("<img");
    expect(view).toContain("&lt;img src=x onerror=alert(&quot;title&quot;)&gt; &amp; &quot;quotes&quot;");
    const thread = await (await callWorker(page(`/threads/${started.continuation_offer.continuation_id}`, cookie), workerEnv)).text();
    expect(thread).not.toContain("<script");
    expect(thread).not.toContain("<img");
    expect(thread).toContain("&lt;/pre&gt;&lt;script&gt;");
    // The long answer is collapsed; the short prompt is not.
    expect(thread.match(/<details>/g)).toHaveLength(1);
    expect(thread).toMatch(/<details><summary>&lt;\/pre&gt;&lt;script&gt;.*characters\)/);
  });

  it("shows the usage of the team's calls as stacked SVG bars with a table of totals", async () => {
    mockUpstream(() => "An answer.");
    const team = uniqueTeam("a");
    const workerEnv = await teamsEnv([team]);
    await chat(workerEnv, team, { prompt: "One", model: "flash" });
    await chat(workerEnv, team, { prompt: "Two", model: "gpt-5" });
    const cookie = await signIn(workerEnv, team);
    const html = await (await callWorker(page("/", cookie), workerEnv)).text();
    expect(html.match(/<rect class="bar"/g)).toHaveLength(2);
    expect(html).toContain("google/gemini-3.8-flash: 15 tokens in 1 call");
    const totals = html.slice(html.indexOf('id="usage-totals"'));
    expect(totals).toContain("<td>google/gemini-3.8-flash</td>");
    expect(totals).toContain("<td>openai/gpt-5</td>");
    expect(totals).toMatch(/<th>total<\/th><th class="num">2<\/th><th class="num">20<\/th><th class="num">10<\/th>/);
  });

  it("shows the team's spend against the deploy's budgets", async () => {
    mockUpstream(() => "An answer.");
    const team = uniqueTeam("a");
    const workerEnv = await teamsEnv([team], { TEAM_BUDGET_USD_PER_DAY: "5", TEAM_BUDGET_USD_PER_MONTH: "100" });
    await chat(workerEnv, team, { prompt: "One", model: "flash" });
    const cookie = await signIn(workerEnv, team);
    const html = await (await callWorker(page("/", cookie), workerEnv)).text();
    expect(html).toContain("Budget: $0.00 of $5.00 today (UTC); $0.00 of $100.00 this month, at list prices.");
  });

  it("shows each provider's breaker, and per-model breakers that are not closed one by one", async () => {
    const team = uniqueTeam("a");
    const workerEnv = await teamsEnv([team], { OPENROUTER_API_KEY: "k", BREAKER_FAILURE_THRESHOLD: "1", BREAKER_COOLDOWN_SECONDS: "600" });
    const settings = { failureThreshold: 1, cooldownMs: 600_000, probeLeaseMs: 600_000 };
    await workerEnv.BREAKERS.getByName(`${team}:openai`).recordFailure(settings);
    await workerEnv.BREAKERS.getByName(`${team}:openrouter:anthropic/claude-sonnet-4.5`).recordFailure(settings);
    const cookie = await signIn(workerEnv, team);
    const html = await (await callWorker(page("/", cookie), workerEnv)).text();
    const providers = html.slice(html.indexOf('id="providers"'), html.indexOf('id="models"'));
    const rows = [...providers.matchAll(/<tr><td>([^<]+)<\/td><td>([^<]+)<\/td><td><span class="state state-(\w+)">/g)].map((m) => `${m[1]} | ${m[2]} | ${m[3]}`);
    expect(rows[0]).toBe("google | all models | closed");
    expect(rows[1]).toBe("openai | all models | open");
    expect(rows[2]).toBe("openrouter | anthropic/claude-sonnet-4.5 | open");
    expect(rows[3]).toMatch(/^openrouter \| \d+ models \| closed$/);
    expect(rows).toHaveLength(4);
    expect(providers).toMatch(/UTC \(in (59\d|600) s\)/);
  });
});
