/**
 * The status page in a real browser: Chromium (Debian's, or the one an npm package ships), headless, driven by playwright-core, with
 * JavaScript turned off (the page must work without it), against the worker under `wrangler dev`
 * with TEAM_TOKENS and the fake upstream. Chats made first give the team threads, usage and an
 * open breaker. Screenshots go to test/artifacts/ (and, with STATUS_PAGE_DOCS_SCREENSHOT=1, the
 * team view to docs/status-page.png).
 */
import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join, resolve } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../fake-upstream/server.ts";
import { closeServer, e2eStack } from "../support/e2e-stack.ts";
import { callTool, connectMcp } from "../support/mcp-session.ts";
import { makeTeamToken, teamTokensVar, type TeamToken } from "../support/team-token.ts";
import { freePort, type WorkerProcess } from "../support/worker-process.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const ARTIFACTS = join(ROOT, "test/artifacts");
const DOCS_SCREENSHOT = join(ROOT, "docs/status-page.png");

const LONG_PROMPT = `Review this plan <script>alert("x")</script> for the job queue.\n${"Step: move one consumer to the new queue and compare.\n".repeat(40)}`;

let upstream: FakeUpstream;
let worker: WorkerProcess;
let teamA: TeamToken;
let teamB: TeamToken;
let browser: Browser;
let attacker: Server;
let attackerUrl: string;

const stack = e2eStack();
async function clientOf(team: TeamToken): Promise<Client> {
  return stack.client(connectMcp(worker.mcpUrl, { authorization: `Bearer ${team.token}` }));
}

/** The ledger is written after each reply: wait (bounded) until it shows `calls` calls. */
async function settledUsage(team: TeamToken, calls: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const response = await fetch(`${worker.url}/v1/usage`, { headers: { authorization: `Bearer ${team.token}` } });
    const usage = (await response.json()) as { totals: { calls: number } };
    if (usage.totals.calls >= calls) return;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`team ${team.team}'s usage never reached ${calls} calls`);
}

/** A page on another origin of this machine whose form posts a sign-in to the worker (login CSRF). */
function startAttacker(): Promise<Server> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "text/html" });
    response.end(
      `<!doctype html><form method="post" action="${worker.url}/"><input name="team_token" value="${teamB.token}"><button id="go">Win a prize</button></form>`,
    );
  });
  return new Promise((done) => server.listen(0, "127.0.0.1", () => done(server)));
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

describe("status page in Chromium", () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    teamA = makeTeamToken("team-a");
    teamB = makeTeamToken("team-b");
    upstream = await stack.upstream();
    worker = await stack.worker({
      vars: {
        GEMINI_API_KEY: "k",
        GEMINI_BASE_URL: upstream.url,
        OPENAI_API_KEY: "k",
        OPENAI_BASE_URL: `${upstream.url}/v1`,
        TEAM_TOKENS: teamTokensVar(teamA, teamB),
        // One failed call opens a provider's breaker, for a long cooldown: the page shows it open.
        PROVIDER_MAX_ATTEMPTS: "1",
        BREAKER_FAILURE_THRESHOLD: "1",
        BREAKER_COOLDOWN_SECONDS: "3600",
      },
    });

    const a = await clientOf(teamA);
    // Twice: the tool list is cached, so the page has a hit rate to show.
    await a.listTools();
    await a.listTools();
    const first = await callTool(a, "chat", { prompt: "Which job queue library should a small Node service use?", model: "flash" });
    expect(first.isError).toBe(false);
    const id = first.json?.continuation_offer?.continuation_id;
    expect((await callTool(a, "chat", { prompt: "And how would it retry failed jobs?", continuation_id: id })).isError).toBe(false);
    expect((await callTool(a, "chat", { prompt: LONG_PROMPT, model: "gpt-5" })).isError).toBe(false);
    upstream.fault({ model: "gpt-5", status: 503, times: 1 });
    expect((await callTool(a, "chat", { prompt: "This one fails upstream.", model: "gpt-5" })).isError).toBe(true);
    const b = await clientOf(teamB);
    expect((await callTool(b, "chat", { prompt: "Team B's private question", model: "flash" })).isError).toBe(false);
    await settledUsage(teamA, 3);

    attacker = await stack.start(startAttacker(), closeServer);
    const address = attacker.address();
    attackerUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : await freePort()}/`;
    browser = await stack.browser();
  });

  /** A fresh browser session with JavaScript off: everything must work with forms and links alone. */
  async function session(viewport = { width: 1100, height: 800 }): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport });
    return { context, page: await context.newPage() };
  }

  async function signIn(page: Page, token: string) {
    await page.goto(`${worker.url}/`);
    await page.fill("#team_token", token);
    const [response] = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    return response;
  }

  it("shows health and version to anyone, signs a team in and out, and shows its view and a thread", async () => {
    const { context, page } = await session();

    // Public view: health and version only.
    const publicResponse = await page.goto(`${worker.url}/`);
    expect(publicResponse?.status()).toBe(200);
    expect(publicResponse?.headers()["x-frame-options"]).toBe("DENY");
    expect(publicResponse?.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
    await expect(page.locator("h1").textContent()).resolves.toBe("zen-mcp-worker");
    const publicText = (await page.locator("body").innerText()).toLowerCase();
    expect(publicText).toContain("status: ok");
    expect(publicText).toContain("version 0.1.0");
    for (const hidden of ["google", "openai", "gemini", "gpt-5", "team-a", "team_tokens"]) expect(publicText).not.toContain(hidden);
    // The nonce'd style applied under the page's CSP.
    expect(await page.locator("body").evaluate((body) => body.ownerDocument.defaultView!.getComputedStyle(body).backgroundColor)).toBe("rgb(245, 245, 244)");
    await screenshot(page, "status-public");

    // A wrong token is refused with a message, and no session starts.
    const wrong = await signIn(page, "not-a-team-token");
    expect(wrong?.status()).toBe(401);
    await expect(page.locator("[role=alert]").innerText()).resolves.toContain("That team token is not valid on this server.");
    expect(await context.cookies()).toEqual([]);
    await screenshot(page, "status-wrong-token");

    // The right one: a session cookie the page's script could not read, sent only to this site.
    const right = await signIn(page, teamA.token);
    expect(right?.status()).toBe(200);
    expect(page.url()).toBe(`${worker.url}/`);
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: "zen_session", httpOnly: true, sameSite: "Strict", expires: -1, path: "/" });

    // The team view.
    await expect(page.locator("header").innerText()).resolves.toContain("team-a");
    const providerRows = await page.locator("#providers tbody tr").allInnerTexts();
    expect(providerRows.map((row) => row.split("\t").slice(0, 3).join(" | "))).toEqual(["google | all models | closed", "openai | all models | open"]);
    expect(providerRows[1]).toMatch(/\t1\t.* UTC \(in \d+ s\)/);
    const flashRow = await page.locator("#models tbody tr", { hasText: "gemini-3.8-flash" }).first().innerText();
    expect(flashRow.split("\t").slice(0, 2)).toEqual(["gemini-3.8-flash", "google"]);
    expect(flashRow).toContain("flash");
    expect(await page.locator("#models tbody tr").count()).toBeGreaterThan(10);
    expect(await page.locator("#caches tbody tr").count()).toBeGreaterThan(0);
    // wrangler dev runs one isolate, which served the tool lists above and this page.
    expect(await page.locator("#caches tbody tr", { hasText: "tools-list" }).innerText()).toMatch(/^tools-list:v\d+\t\d+%\t/);
    const threads = await page.locator("#threads tbody tr").allInnerTexts();
    expect(threads).toHaveLength(2);
    expect(threads.join("\n")).toContain("Which job queue library should a small Node service use?");
    expect(threads.join("\n")).not.toContain("Team B's private question");
    expect(await page.locator("svg.chart").count()).toBe(1);
    const bars = page.locator("svg.chart rect.bar");
    expect(await bars.count()).toBe(2);
    expect(await bars.first().getAttribute("height").then(Number)).toBeGreaterThan(0);
    const totals = await page.locator("#usage-totals tbody tr").allInnerTexts();
    expect(totals.map((row) => row.split("\t").slice(0, 2).join(" | "))).toEqual(["google/gemini-3.8-flash | 2", "openai/gpt-5 | 1", "total | 3"]);
    await screenshot(page, "status-team");
    if (process.env.STATUS_PAGE_DOCS_SCREENSHOT === "1") await page.screenshot({ path: DOCS_SCREENSHOT, fullPage: true });

    // On a phone the page fits the screen's width (wide tables scroll inside their box).
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.locator("html").evaluate((html) => html.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(page, "status-team-phone");
    await page.setViewportSize({ width: 1100, height: 800 });

    // A thread and its turns.
    await Promise.all([page.waitForNavigation(), page.click("#threads a >> text=Which job queue library")]);
    expect(page.url()).toMatch(/\/threads\/[0-9a-f-]{36}$/);
    const turns = page.locator("article.turn");
    expect(await turns.count()).toBe(4);
    const headings = await turns.locator("div.muted").allInnerTexts();
    expect(headings.map((h) => h.split(" · ").slice(0, 3).join(" · "))).toEqual(["#1 · user · chat", "#2 · assistant · chat", "#3 · user · chat", "#4 · assistant · chat"]);
    expect(headings[1]).toContain("google/gemini-3.8-flash");
    await expect(turns.nth(2).locator("pre").innerText()).resolves.toBe("And how would it retry failed jobs?");
    await expect(turns.nth(3).locator("pre").innerText()).resolves.toMatch(/^fake:gemini-3\.8-flash: /);
    await screenshot(page, "status-thread");

    // The long thread: markup shown as text, the long turn collapsed until opened.
    await page.goto(`${worker.url}/`);
    await Promise.all([page.waitForNavigation(), page.click("#threads a >> text=Review this plan")]);
    expect(await page.locator("script").count()).toBe(0);
    const details = page.locator("article.turn details").first();
    expect(await details.getAttribute("open")).toBeNull();
    await expect(details.locator("summary").innerText()).resolves.toContain('Review this plan <script>alert("x")</script> for the job queue.');
    expect(await details.locator("pre").isVisible()).toBe(false);
    await details.locator("summary").click();
    expect(await details.locator("pre").isVisible()).toBe(true);
    await expect(details.locator("pre").innerText()).resolves.toContain("Step: move one consumer");
    await screenshot(page, "status-thread-long");

    // Sign out: the cookie is gone, the thread asks for a sign-in again.
    const threadUrl = page.url();
    await Promise.all([page.waitForNavigation(), page.click("button:has-text('Sign out')")]);
    expect(await context.cookies()).toEqual([]);
    expect((await page.locator("body").innerText()).toLowerCase()).not.toContain("google");
    const again = await page.goto(threadUrl);
    expect(again?.status()).toBe(401);
    await expect(page.locator("[role=alert]").innerText()).resolves.toContain("Sign in with your team token to see this thread.");
    await screenshot(page, "status-signed-out");
    await context.close();
  });

  it("attack: a form on another origin cannot sign this browser in (login CSRF)", async () => {
    const { context, page } = await session();
    await page.goto(attackerUrl);
    const [response] = await Promise.all([page.waitForNavigation(), page.click("#go")]);
    expect(response?.status()).toBe(403);
    await expect(page.locator("[role=alert]").innerText()).resolves.toContain("sent from another site");
    expect(await context.cookies(worker.url)).toEqual([]);
    await screenshot(page, "status-csrf-refused");
    await context.close();
  });
});
