/**
 * An OAuth 2.1 sign-in step by step, as an MCP client and the person at its browser take it:
 * register a client, open /authorize, submit the consent form, exchange the code. Works over any
 * fetch (the worker inside workerd, or wrangler dev over loopback). Each step hands back the raw
 * response, so attack tests can take a step wrongly and look at the answer.
 */
export type Fetch = (request: Request) => Promise<Response>;

export const REDIRECT_URI = "http://127.0.0.1:33418/callback";

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export interface Pkce {
  verifier: string;
  challenge: string;
}

/** A PKCE verifier and its S256 challenge. */
export async function pkce(): Promise<Pkce> {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  return { verifier, challenge: base64url(digest) };
}

export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
}

/** Dynamic client registration (RFC 7591); a public client unless the metadata says otherwise. */
export async function registerClient(fetch: Fetch, origin: string, metadata: Record<string, unknown> = {}): Promise<RegisteredClient> {
  const response = await fetch(
    new Request(`${origin}/oauth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_name: "Test connector", redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none", ...metadata }),
    }),
  );
  if (response.status !== 201) throw new Error(`registration failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as RegisteredClient;
}

/** The /authorize URL a client sends the person to; `undefined` leaves a parameter out. */
export function authorizeUrl(
  origin: string,
  client: RegisteredClient,
  params: { challenge?: string | undefined; method?: string | undefined; resource?: string | undefined; state?: string; redirectUri?: string },
): string {
  const url = new URL(`${origin}/authorize`);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", client.client_id);
  url.searchParams.set("redirect_uri", params.redirectUri ?? REDIRECT_URI);
  url.searchParams.set("state", params.state ?? "state-123");
  if (params.challenge !== undefined) url.searchParams.set("code_challenge", params.challenge);
  if (params.method !== undefined) url.searchParams.set("code_challenge_method", params.method);
  if (params.resource !== undefined) url.searchParams.set("resource", params.resource);
  return url.href;
}

export interface ConsentForm {
  /** The page's URL: the form posts back to it. */
  url: string;
  handle: string;
  /** The binding cookie the page set, as a browser would send it back. */
  cookie: string;
  html: string;
}

/** The consent form in a page the server answered with; throws unless there is one. */
export async function consentFormIn(response: Response, url: string, cookie = ""): Promise<ConsentForm> {
  const html = await response.text();
  const handle = /name="handle" value="([^"]+)"/.exec(html)?.[1];
  if (handle === undefined) throw new Error(`no consent form: ${response.status} ${html.slice(0, 300)}`);
  const cookies = response.headers.getSetCookie().map((line) => line.split(";")[0] ?? "");
  return { url, handle, cookie: [cookie, ...cookies].filter((part) => part !== "").join("; "), html };
}

/** Opens the consent page as a browser would. */
export async function openConsent(fetch: Fetch, url: string): Promise<ConsentForm> {
  return consentFormIn(await fetch(new Request(url, { redirect: "manual" })), url);
}

/** Submits the consent form (from the page's own origin, with its cookie, as a browser does). */
export function submitConsent(fetch: Fetch, form: ConsentForm, fields: { team_token?: string; decision?: "approve" | "deny" }): Promise<Response> {
  return fetch(
    new Request(form.url, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: form.cookie, origin: new URL(form.url).origin },
      body: new URLSearchParams({ handle: form.handle, decision: fields.decision ?? "approve", team_token: fields.team_token ?? "" }),
    }),
  );
}

/** The authorization code in a redirect back to the client; throws when there is none. */
export function codeFrom(response: Response): string {
  const location = response.headers.get("location") ?? "";
  const code = URL.canParse(location) ? new URL(location).searchParams.get("code") : null;
  if (response.status !== 302 || code === null) throw new Error(`no code: ${response.status} ${location}`);
  return code;
}

/** The token request for a code; `verifier: undefined` leaves code_verifier out. */
export function exchangeCode(
  fetch: Fetch,
  origin: string,
  client: RegisteredClient,
  code: string,
  verifier: string | undefined,
  extra: Record<string, string> = {},
): Promise<Response> {
  const body = new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, client_id: client.client_id, ...extra });
  if (verifier !== undefined) body.set("code_verifier", verifier);
  return fetch(new Request(`${origin}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body }));
}

export interface SignIn {
  client: RegisteredClient;
  accessToken: string;
  refreshToken: string | undefined;
}

/** The whole sign-in, done right: what a connector and its person do. */
export async function signIn(fetch: Fetch, origin: string, teamToken: string): Promise<SignIn> {
  const client = await registerClient(fetch, origin);
  const { verifier, challenge } = await pkce();
  const form = await openConsent(fetch, authorizeUrl(origin, client, { challenge, method: "S256", resource: `${origin}/mcp` }));
  const code = codeFrom(await submitConsent(fetch, form, { team_token: teamToken }));
  const response = await exchangeCode(fetch, origin, client, code, verifier);
  if (response.status !== 200) throw new Error(`token exchange failed: ${response.status} ${await response.text()}`);
  const tokens = (await response.json()) as { access_token: string; refresh_token?: string };
  return { client, accessToken: tokens.access_token, refreshToken: tokens.refresh_token };
}

/**
 * What a connector keeps between the 401 and the finished sign-in, as the official SDK clients
 * (v1 and v2, whose provider interfaces agree on these members) ask their OAuth provider for it;
 * the browser hand-off is the test's (`authorizationUrl`). With `clientMetadataUrl` the client
 * names itself by its Client ID Metadata Document instead of registering.
 */
export class ConnectorProvider {
  authorizationUrl: URL | undefined;
  readonly clientMetadataUrl: string | undefined;
  private client: { client_id: string } | undefined;
  private saved: { access_token: string; token_type: string } | undefined;
  private verifier = "";

  constructor(clientMetadataUrl?: string) {
    this.clientMetadataUrl = clientMetadataUrl;
  }

  get redirectUrl(): string {
    return REDIRECT_URI;
  }

  get clientMetadata() {
    return {
      client_name: "SDK connector",
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
    };
  }

  clientInformation(): { client_id: string } | undefined {
    return this.client;
  }

  saveClientInformation(client: { client_id: string }): void {
    this.client = client;
  }

  tokens(): { access_token: string; token_type: string } | undefined {
    return this.saved;
  }

  saveTokens(tokens: { access_token: string; token_type: string }): void {
    this.saved = tokens;
  }

  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }

  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }

  codeVerifier(): string {
    return this.verifier;
  }
}
