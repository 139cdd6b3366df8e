/**
 * OAuth 2.1 sign-in against the real worker under `wrangler dev`, with team tokens made by
 * `npm run token`: the full authorization-code flow with PKCE as a connector takes it, the
 * official MCP SDK client finding its way from the 401 by itself, and the attacks on the flow.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { beforeAll, describe, expect, it } from "vitest";
import { connectMcp } from "../support/mcp-session.ts";
import {
  authorizeUrl,
  ConnectorProvider,
  codeFrom,
  consentFormIn,
  exchangeCode,
  type Fetch,
  openConsent,
  pkce,
  REDIRECT_URI,
  registerClient,
  signIn,
  submitConsent,
} from "../support/oauth-flow.ts";
import { makeTeamToken, teamTokensVar, type TeamToken } from "../support/team-token.ts";
import type { WorkerProcess } from "../support/worker-process.ts";
import { e2eStack } from "../support/e2e-stack.ts";

let worker: WorkerProcess;
let alice: TeamToken;
let bob: TeamToken;

const http: Fetch = (request) => fetch(request);

const stack = e2eStack();

beforeAll(async () => {
  alice = makeTeamToken("team-alpha");
  bob = makeTeamToken("team-beta");
  // Every request of this file comes from one address, many sign-in steps a minute: its budget
  // (RATE_LIMIT_PER_ADDRESS_PER_MINUTE) is raised here and tested in test/worker/auth.test.ts.
  worker = await stack.worker({ vars: { TEAM_TOKENS: teamTokensVar(alice, bob), RATE_LIMIT_PER_ADDRESS_PER_MINUTE: "1000" } });
});

function mcpWith(token: string, body: unknown): Request {
  return new Request(worker.mcpUrl, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

const toolsList = { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} };

/** The error an authorization redirect carries back to the client (and that it carries no code). */
function redirectError(response: Response): string | null {
  expect(response.status).toBe(302);
  const location = new URL(response.headers.get("location") ?? "");
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
  expect(location.searchParams.get("code")).toBeNull();
  return location.searchParams.get("error");
}

describe("OAuth sign-in against wrangler dev", () => {
  it("registers a client, authorizes with PKCE and a team token, and calls tools/list with the access token", async () => {
    const origin = worker.url;
    const challenge401 = await fetch(new Request(worker.mcpUrl, { method: "POST", body: "{}", headers: { "content-type": "application/json" } }));
    expect(challenge401.status).toBe(401);
    expect(challenge401.headers.get("www-authenticate")).toContain(`resource_metadata="${origin}/.well-known/oauth-protected-resource"`);
    const resource = (await (await fetch(`${origin}/.well-known/oauth-protected-resource`)).json()) as Record<string, unknown>;
    expect(resource).toMatchObject({ resource: worker.mcpUrl, authorization_servers: [origin], bearer_methods_supported: ["header"] });

    const client = await registerClient(http, origin);
    expect(client.client_id).toBeTruthy();
    const { verifier, challenge } = await pkce();
    const form = await openConsent(http, authorizeUrl(origin, client, { challenge, method: "S256", resource: worker.mcpUrl }));
    expect(form.html).toContain("Test connector");
    expect(form.html).toContain("127.0.0.1"); // where its access goes
    const consented = await submitConsent(http, form, { team_token: alice.token });
    const code = codeFrom(consented);
    expect(new URL(consented.headers.get("location") ?? "").searchParams.get("state")).toBe("state-123");

    const tokenResponse = await exchangeCode(http, origin, client, code, verifier);
    expect(tokenResponse.status).toBe(200);
    const tokens = (await tokenResponse.json()) as { access_token: string; token_type: string; resource?: string };
    expect(tokens.token_type.toLowerCase()).toBe("bearer");

    const mcp = await connectMcp(worker.mcpUrl, { authorization: `Bearer ${tokens.access_token}` });
    const { tools } = await mcp.listTools();
    expect(tools.map((tool) => tool.name)).toContain("listmodels");
    await mcp.close();
    // The grant is the team's: its threads are team-alpha's.
    expect((await fetch(`${origin}/v1/threads`, { headers: { authorization: `Bearer ${alice.token}` } })).status).toBe(200);
  });

  it("lets the MCP SDK client sign in by itself from the 401 (discovery, registration, PKCE)", async () => {
    const provider = new ConnectorProvider();
    const first = new Client({ name: "sdk-connector", version: "1.0.0" });
    await expect(first.connect(new StreamableHTTPClientTransport(new URL(worker.mcpUrl), { authProvider: provider }))).rejects.toThrow(UnauthorizedError);
    const authorizationUrl = provider.authorizationUrl;
    expect(authorizationUrl?.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorizationUrl?.searchParams.get("resource")).toBe(worker.mcpUrl);

    // The person at the browser.
    const form = await openConsent(http, authorizationUrl?.href ?? "");
    expect(form.html).toContain("SDK connector");
    const code = codeFrom(await submitConsent(http, form, { team_token: bob.token }));

    const transport = new StreamableHTTPClientTransport(new URL(worker.mcpUrl), { authProvider: provider });
    await transport.finishAuth(code);
    const client = new Client({ name: "sdk-connector", version: "1.0.0" });
    await client.connect(transport);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toContain("version");
    await client.close();
  });

  it("keeps team tokens working directly beside OAuth", async () => {
    const response = await fetch(mcpWith(bob.token, toolsList));
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });
});

describe("attacks on the OAuth flow", () => {
  it("a wrong code verifier gets no token", async () => {
    const client = await registerClient(http, worker.url);
    const { challenge } = await pkce();
    const form = await openConsent(http, authorizeUrl(worker.url, client, { challenge, method: "S256" }));
    const code = codeFrom(await submitConsent(http, form, { team_token: alice.token }));
    const wrong = await exchangeCode(http, worker.url, client, code, (await pkce()).verifier);
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: "invalid_grant" });
    const none = await exchangeCode(http, worker.url, client, code, undefined);
    expect(none.status).toBe(400);
    expect(JSON.stringify(await none.json())).not.toContain("access_token");
  });

  it("a replayed code gets no token and revokes the tokens the code gave", async () => {
    const client = await registerClient(http, worker.url);
    const { verifier, challenge } = await pkce();
    const form = await openConsent(http, authorizeUrl(worker.url, client, { challenge, method: "S256" }));
    const code = codeFrom(await submitConsent(http, form, { team_token: alice.token }));
    const first = await exchangeCode(http, worker.url, client, code, verifier);
    expect(first.status).toBe(200);
    const { access_token: accessToken } = (await first.json()) as { access_token: string };
    const replay = await exchangeCode(http, worker.url, client, code, verifier);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: "invalid_grant" });
    expect((await fetch(mcpWith(accessToken, toolsList))).status).toBe(401);
  });

  it("a consent form with a bad team token grants nothing and shows the form again", async () => {
    const client = await registerClient(http, worker.url);
    const { challenge } = await pkce();
    const form = await openConsent(http, authorizeUrl(worker.url, client, { challenge, method: "S256" }));
    let retry = form;
    for (const teamToken of ["not-a-team-token", "", `${alice.token}x`]) {
      const refused = await submitConsent(http, retry, { team_token: teamToken });
      expect(refused.status, teamToken).toBe(401);
      expect(refused.headers.get("location")).toBeNull();
      retry = await consentFormIn(refused, form.url, retry.cookie);
      expect(retry.html).toContain("That team token is not valid");
      expect(retry.html).toContain("Test connector");
    }
    // The person tries again on the form shown; a real token then works.
    expect(codeFrom(await submitConsent(http, retry, { team_token: alice.token }))).toBeTruthy();
  });

  it("a consent form cannot be replayed, nor submitted without the browser's cookie", async () => {
    const client = await registerClient(http, worker.url);
    const { challenge } = await pkce();
    const form = await openConsent(http, authorizeUrl(worker.url, client, { challenge, method: "S256" }));
    const stolen = await submitConsent(http, { ...form, cookie: "" }, { team_token: alice.token });
    expect(stolen.status).toBe(400);
    expect(stolen.headers.get("location")).toBeNull();
    codeFrom(await submitConsent(http, form, { team_token: alice.token }));
    const replayed = await submitConsent(http, form, { team_token: alice.token });
    expect(replayed.status).toBe(400);
    expect(replayed.headers.get("location")).toBeNull();
  });

  it("Deny sends the client access_denied and no code", async () => {
    const client = await registerClient(http, worker.url);
    const { challenge } = await pkce();
    const form = await openConsent(http, authorizeUrl(worker.url, client, { challenge, method: "S256" }));
    expect(redirectError(await submitConsent(http, form, { decision: "deny", team_token: alice.token }))).toBe("access_denied");
  });

  it("a token for another resource is refused, at the token endpoint and at the other routes", async () => {
    const client = await registerClient(http, worker.url);
    const { verifier, challenge } = await pkce();
    const other = `${worker.url}/v1`;
    const authorize = await fetch(new Request(authorizeUrl(worker.url, client, { challenge, method: "S256", resource: other }), { redirect: "manual" }));
    expect(redirectError(authorize)).toBe("invalid_target");

    const form = await openConsent(http, authorizeUrl(worker.url, client, { challenge, method: "S256" }));
    const code = codeFrom(await submitConsent(http, form, { team_token: alice.token }));
    const retarget = await exchangeCode(http, worker.url, client, code, verifier, { resource: other });
    expect(retarget.status).toBe(400);
    expect(await retarget.json()).toMatchObject({ error: "invalid_target" });

    const { accessToken } = await signIn(http, worker.url, alice.token);
    const rest = await fetch(`${worker.url}/v1/threads`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(rest.status).toBe(401);
    expect((await fetch(mcpWith(accessToken, toolsList))).status).toBe(200);
  });

  it("an authorization without PKCE, or with the plain method, is refused", async () => {
    const publicClient = await registerClient(http, worker.url);
    const confidential = await registerClient(http, worker.url, { token_endpoint_auth_method: "client_secret_basic" });
    expect(confidential.client_secret).toBeTruthy();
    for (const client of [publicClient, confidential]) {
      const noPkce = await fetch(new Request(authorizeUrl(worker.url, client, {}), { redirect: "manual" }));
      expect(redirectError(noPkce)).toBe("invalid_request");
    }
    const { verifier } = await pkce();
    const plain = await fetch(new Request(authorizeUrl(worker.url, publicClient, { challenge: verifier, method: "plain" }), { redirect: "manual" }));
    expect(redirectError(plain)).toBe("invalid_request");
  });

  it("a registration with 1 MB of redirect_uris is refused before it is read whole", async () => {
    const body = JSON.stringify({ client_name: "Flood", redirect_uris: [`${REDIRECT_URI}/${"a".repeat(1024 * 1024)}`], token_endpoint_auth_method: "none" });
    const response = await fetch(`${worker.url}/oauth/register`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: "invalid_client_metadata" });
  });

  it("an unregistered redirect URI is refused on the page, never redirected to", async () => {
    const client = await registerClient(http, worker.url);
    const { challenge } = await pkce();
    const url = new URL(authorizeUrl(worker.url, client, { challenge, method: "S256" }));
    url.searchParams.set("redirect_uri", "https://evil.example/steal");
    const response = await fetch(new Request(url, { redirect: "manual" }));
    expect(response.status).toBe(400);
    expect(response.headers.get("location")).toBeNull();
    expect(await response.text()).toContain("Invalid redirect URI");
  });
});

