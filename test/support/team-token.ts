/**
 * Runs `npm run token -- <team>` (scripts/team-token.js) as an admin would, and reads back what
 * it printed: the token and the TEAM_TOKENS entry.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

const SCRIPT = resolve(import.meta.dirname, "../../scripts/team-token.js");

export interface ScriptRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runTokenScript(...args: string[]): ScriptRun {
  const run = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: "utf8", timeout: 30_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

export interface TeamToken {
  token: string;
  digest: string;
  team: string;
  output: string;
}

export function makeTeamToken(team: string): TeamToken {
  const run = runTokenScript(team);
  if (run.status !== 0) throw new Error(`npm run token failed (${run.status}): ${run.stderr}`);
  const token = /^ {2}([A-Za-z0-9_-]{43,})$/m.exec(run.stdout)?.[1];
  const entry = /^ {2}"([0-9a-f]{64})": "([^"]+)"$/m.exec(run.stdout);
  if (token === undefined || !entry?.[1] || entry[2] !== team) throw new Error(`unexpected output:\n${run.stdout}`);
  return { token, digest: entry[1], team, output: run.stdout };
}

/** The TEAM_TOKENS value holding these tokens. */
export function teamTokensVar(...tokens: TeamToken[]): string {
  return JSON.stringify(Object.fromEntries(tokens.map((token) => [token.digest, token.team])));
}
