import type { ConsentDescription } from "@cloudflare/workers-oauth-provider";
import { html, raw } from "hono/html";

// Every value interpolated by `html` is escaped: the client's name and redirect URI come from
// whoever registered the client.

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f5f5f4; color: #1c1917; }
  main { max-width: 30rem; margin: 4rem auto; padding: 2rem; background: #fff; border-radius: 0.75rem; box-shadow: 0 1px 3px #0002; }
  h1 { font-size: 1.35rem; margin-top: 0; }
  .note { color: #57534e; font-size: 0.9rem; }
  .warn, .error { padding: 0.6rem 0.8rem; border-radius: 0.4rem; }
  .warn { background: #fef3c7; }
  .error { background: #fee2e2; }
  label { display: block; font-weight: 600; margin-top: 1rem; }
  input[type=password] { width: 100%; box-sizing: border-box; padding: 0.5rem; font: inherit; margin-top: 0.3rem; }
  .buttons { display: flex; gap: 0.75rem; margin-top: 1.25rem; }
  button { font: inherit; padding: 0.5rem 1.25rem; border-radius: 0.4rem; border: 1px solid #a8a29e; background: #fff; cursor: pointer; }
  button[value=approve] { background: #1c1917; color: #fff; border-color: #1c1917; }
`;

/**
 * A page of the sign-in. Its referrer policy is same-origin, not no-referrer: under no-referrer a
 * browser posts the form with `Origin: null`, which the Host/Origin guard refuses.
 */
function page(title: string, body: ReturnType<typeof html>) {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title}</title>
<style>${raw(STYLE)}</style>
</head>
<body><main>${body}</main></body>
</html>`;
}

/**
 * The consent page: which app asks and where its access goes (as the MCP authorization spec
 * requires), and a field for the team token that proves the person belongs to a team here. The
 * form posts back to the same URL with the consent handle.
 */
export function consentPage(details: ConsentDescription, handle: string, error?: string) {
  const origin = details.clientDomain
    ? html`Published by <strong>${details.clientDomain}</strong>.`
    : "This app registered itself; its name is not verified.";
  return page(
    `Connect ${details.clientName}`,
    html`<h1>Connect <strong>${details.clientName}</strong> to this Zen MCP server?</h1>
<p>${origin} Its access will be sent to <strong>${details.redirectHost}</strong>.</p>
${details.redirectIsLoopback ? html`<p class="warn">This sends access to an app on your computer. Continue only if you just started connecting from it.</p>` : ""}
${error ? html`<p class="error" role="alert">${error}</p>` : ""}
<form method="post">
<input type="hidden" name="handle" value="${handle}">
<label for="team_token">Your team token</label>
<input id="team_token" name="team_token" type="password" autocomplete="off" autofocus>
<p class="note">It proves you belong to a team on this server. The app gets its own access for that team, never the token itself.</p>
<div class="buttons"><button name="decision" value="approve">Allow</button><button name="decision" value="deny">Deny</button></div>
</form>`,
  );
}

/** A sign-in that cannot go on and must not be sent back to the client (unverified redirect, spent form). */
export function authorizationErrorPage(message: string) {
  return page("Cannot connect", html`<h1>Cannot connect</h1><p class="error" role="alert">${message}</p><p class="note">Start connecting again from your app.</p>`);
}
