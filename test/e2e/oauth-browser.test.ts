/**
 * The OAuth consent page in a real browser (Chromium: Debian's, or the one an npm package ships; JavaScript off): a person opens
 * the authorization URL a connector sends them to, enters their team token and clicks Allow; the
 * browser lands on the client's redirect URI with a code that the client exchanges (PKCE) for an
 * access token to /mcp. Browsers send `Origin` with form posts, which fetch-based tests do not.
 */
import { createServer, type Server } from "node:http";
import type { Browser } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { authorizeUrl, exchangeCode, pkce, registerClient } from "../support/oauth-flow.ts";
import { makeTeamToken, teamTokensVar } from "../support/team-token.ts";
import { closeServer, e2eStack } from "../support/e2e-stack.ts";
import type { WorkerProcess } from "../support/worker-process.ts";

const team = makeTeamToken("browser-team");
let worker: WorkerProcess;
let browser: Browser;
/** The client's own local listener, where the browser lands with the code (as a CLI connector's is). */
let callback: Server;
let callbackUrl: string;

describe("OAuth consent in Chromium", () => {
  const stack = e2eStack();

  beforeAll(async () => {
    worker = await stack.worker({ vars: { TEAM_TOKENS: teamTokensVar(team) } });
    browser = await stack.browser();
    callback = stack.add(createServer((_request, response) => response.end("signed in")), closeServer);
    await new Promise<void>((done) => callback.listen(0, "127.0.0.1", done));
    const address = callback.address();
    callbackUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/callback`;
  });

  it("a person signs in with a team token and the client gets a working access token", async () => {
    const client = await registerClient(fetch, worker.url, { redirect_uris: [callbackUrl] });
    const { verifier, challenge } = await pkce();
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(authorizeUrl(worker.url, client, { challenge, method: "S256", resource: worker.mcpUrl, redirectUri: callbackUrl }));
    await page.fill('input[type="password"]', team.token);
    await Promise.all([page.waitForURL(`${callbackUrl}**`), page.click('button[value="approve"]')]);
    const code = new URL(page.url()).searchParams.get("code");
    expect(code).toBeTruthy();
    await context.close();

    const exchanged = await exchangeCode(fetch, worker.url, client, code ?? "", verifier, { redirect_uri: callbackUrl });
    expect(exchanged.status).toBe(200);
    const { access_token } = (await exchanged.json()) as { access_token: string };
    const listed = await fetch(worker.mcpUrl, {
      method: "POST",
      headers: { authorization: `Bearer ${access_token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(listed.status).toBe(200);
    expect(await listed.text()).toContain('"name":"chat"');
  });
});
