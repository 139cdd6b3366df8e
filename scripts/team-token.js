#!/usr/bin/env node
// `npm run token -- <team>`: makes a bearer token for a team. The token is printed once and
// stored nowhere; TEAM_TOKENS holds only its SHA-256, so the entry to add is printed with it.
// Plain JavaScript with no project imports: it runs on any Node and never loads worker code.
import { createHash, randomBytes } from "node:crypto";

// TEAM_TOKENS's rule for team ids (src/config.ts); test/e2e/team-token.test.ts checks they agree.
const TEAM_ID = /^[A-Za-z0-9_.-]{1,64}$/;

const [team, ...extra] = process.argv.slice(2);
if (team === undefined || extra.length > 0 || !TEAM_ID.test(team)) {
  process.stderr.write("Usage: npm run token -- <team>\nA team id is 1 to 64 letters, digits, '_', '.' or '-'.\n");
  process.exit(2);
}

const token = randomBytes(32).toString("base64url");
const digest = createHash("sha256").update(token).digest("hex");

process.stdout.write(`Token for team '${team}' (shown only now; give it to the person or client it is for):

  ${token}

Add this entry to the TEAM_TOKENS JSON object (a team may have several tokens; remove an entry to revoke its token):

  "${digest}": "${team}"

Deployed: npx wrangler secret put TEAM_TOKENS   (paste the whole object, every entry)
Locally:  TEAM_TOKENS='{"${digest}":"${team}"}' in .dev.vars, then restart npm run dev
Clients send the token as 'Authorization: Bearer <token>'.
`);
