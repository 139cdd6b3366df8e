/**
 * OAuth sign-in for clients of the 2026-07-28 revision, against the real worker under
 * `wrangler dev`: the official SDK v2 client finds its way from the 401 by itself, names itself
 * by a Client ID Metadata Document (served over https on loopback, fetched by the worker) or by
 * dynamic registration, checks the `iss` of the authorization response (RFC 9207), and then
 * uses its tools.
 */
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from "@modelcontextprotocol/client";
import { beforeAll, describe, expect, it } from "vitest";
import type { FakeUpstream } from "../fake-upstream/server.ts";
import { serveHttpsDocument, type HttpsDocument } from "../support/https-document.ts";
import { ConnectorProvider, openConsent, REDIRECT_URI, submitConsent, type Fetch } from "../support/oauth-flow.ts";
import { makeTeamToken, teamTokensVar, type TeamToken } from "../support/team-token.ts";
import type { WorkerProcess } from "../support/worker-process.ts";
import { e2eStack } from "../support/e2e-stack.ts";

const MODERN = "2026-07-28";
const http: Fetch = (request) => fetch(request);

let upstream: FakeUpstream;
let metadataDocument: HttpsDocument;
let worker: WorkerProcess;
let alice: TeamToken;

const stack = e2eStack();

beforeAll(async () => {
  upstream = await stack.upstream();
  metadataDocument = await stack.start(
    serveHttpsDocument("/oauth/client.json", (url) => ({
      client_id: url,
      client_name: "Metadata-document connector",
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
    })),
    (document) => document.close(),
  );
  alice = makeTeamToken("team-alpha");
  worker = await stack.worker({
    vars: { TEAM_TOKENS: teamTokensVar(alice), GEMINI_API_KEY: "test-key", GEMINI_BASE_URL: upstream.url },
    env: { NODE_EXTRA_CA_CERTS: metadataDocument.certificateFile },
  });
});


const negotiation = { pinned: { mode: { pin: MODERN } }, auto: { mode: "auto" } } as const;

/**
 * The whole sign-in as a connector and its person take it: the client's first connect meets the
 * 401 and sends the person to /authorize; the person enters a team token on the consent page;
 * the callback's parameters go to `finishAuth`, which checks `iss` and exchanges the code.
 * Returns the callback URL and a client connected with the tokens.
 */
async function signInWith(provider: ConnectorProvider, mode: keyof typeof negotiation): Promise<{ callback: URL; client: Client }> {
  const options = { versionNegotiation: negotiation[mode] };
  const transport = new StreamableHTTPClientTransport(new URL(worker.mcpUrl), { authProvider: provider });
  await expect(new Client({ name: "connector", version: "1.0.0" }, options).connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
  const authorization = provider.authorizationUrl;
  if (!authorization) throw new Error("the client was not sent to the authorization endpoint");
  const form = await openConsent(http, authorization.href);
  const redirect = await submitConsent(http, form, { team_token: alice.token });
  const callback = new URL(redirect.headers.get("location") ?? "");
  await transport.finishAuth(callback.searchParams);
  const client = new Client({ name: "connector", version: "1.0.0" }, options);
  await client.connect(new StreamableHTTPClientTransport(new URL(worker.mcpUrl), { authProvider: provider }));
  return { callback, client };
}

describe("OAuth for the 2026-07-28 revision", () => {
  it("advertises Client ID Metadata Documents and the iss parameter in its metadata", async () => {
    const response = await fetch(`${worker.url}/.well-known/oauth-authorization-server`);
    expect(await response.json()).toMatchObject({
      issuer: worker.url,
      client_id_metadata_document_supported: true,
      authorization_response_iss_parameter_supported: true,
      code_challenge_methods_supported: ["S256"],
    });
  });

  it("a client pinned to 2026-07-28 signs in by its metadata document's URL, and calls tools", async () => {
    const provider = new ConnectorProvider(metadataDocument.url);
    const { callback, client } = await signInWith(provider, "pinned");
    // No registration: the client id is the document's URL, which the worker fetched.
    expect(provider.authorizationUrl?.searchParams.get("client_id")).toBe(metadataDocument.url);
    expect(metadataDocument.fetches()).toBeGreaterThan(0);
    expect(callback.searchParams.get("iss")).toBe(worker.url);
    expect(client.getProtocolEra()).toBe("modern");
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toContain("chat");
    const progress: string[] = [];
    const result = await client.callTool(
      { name: "chat", arguments: { prompt: "Is this lock needed?", model: "flash" } },
      { onprogress: (update) => void progress.push(update.message ?? "") },
    );
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ status: "continuation_available" });
    expect(progress.length).toBeGreaterThan(0);
    await client.close();
  });

  it("shows the consent page with the name the metadata document gives", async () => {
    const provider = new ConnectorProvider(metadataDocument.url);
    const transport = new StreamableHTTPClientTransport(new URL(worker.mcpUrl), { authProvider: provider });
    await expect(new Client({ name: "connector", version: "1.0.0" }, { versionNegotiation: negotiation.pinned }).connect(transport)).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    const form = await openConsent(http, provider.authorizationUrl?.href ?? "");
    expect(form.html).toContain("Metadata-document connector");
  });

  it("a client in auto mode registers dynamically, negotiates the modern era and calls tools", async () => {
    const provider = new ConnectorProvider();
    const { callback, client } = await signInWith(provider, "auto");
    expect(provider.clientInformation()?.client_id).toBeTruthy();
    expect(callback.searchParams.get("iss")).toBe(worker.url);
    expect(client.getProtocolEra()).toBe("modern");
    const result = await client.callTool({ name: "version", arguments: {} });
    expect(result.structuredContent).toMatchObject({ status: "success" });
    await client.close();
  });
});
