/**
 * Per-team deploys (README, "Deploying per team"):
 *
 *   node scripts/deploy.ts check --env <team>     what the team's deploy still lacks (npm run deploy:check -- --env <team>)
 *   node scripts/deploy.ts deploy --env <team>    checks, deploys, then lists missing secrets (npm run deploy -- --env <team>)
 *   node scripts/deploy.ts dry-run                bundles the top level and every [env.*] offline (CI)
 *
 * Exit codes: 0 ready (or done); 1 something is missing or failed; 2 (check) the configuration is
 * ready but the deployed secrets could not be listed (offline, or no Cloudflare account).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  deployedSecrets,
  deployProblems,
  environmentsOf,
  missingSecrets,
  readWranglerConfig,
  ROOT,
  runWrangler,
  WRANGLER_TOML,
} from "./team-deploy.ts";

const USAGE = "Usage: node scripts/deploy.ts check|deploy --env <team> [-- <wrangler deploy options>], or node scripts/deploy.ts dry-run";

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function parseCommandLine() {
  try {
    return parseArgs({ options: { env: { type: "string" } }, allowPositionals: true, strict: true });
  } catch (error) {
    fail(`${(error as Error).message}\n${USAGE}`);
  }
}

const { values, positionals } = parseCommandLine();
const [command, ...passThrough] = positionals;
const config = readWranglerConfig();
const teams = environmentsOf(config);

function chosenTeam(): string {
  const team = values.env;
  if (!team) {
    fail(
      `Name the team's environment: --env <team> (in wrangler.toml: ${teams.join(", ") || "none yet"}). ` +
        "The top level of wrangler.toml is the local development configuration, not a deploy.",
    );
  }
  if (!teams.includes(team)) fail(`wrangler.toml has no [env.${team}]. Copy [env.example-team] as [env.${team}] (README, "Deploying per team").`);
  return team;
}

/** Prints the configuration's problems; true when there are none. */
function reportConfig(team: string): boolean {
  const problems = deployProblems(config, team);
  if (problems.length === 0) {
    process.stdout.write(`[env.${team}]: every binding of the top level is repeated, KV ids and ALLOWED_HOSTNAMES are set.\n`);
    return true;
  }
  process.stdout.write(`[env.${team}] is not ready to deploy:\n${problems.map((p) => `  - ${p}\n`).join("")}`);
  return false;
}

/** Prints which secrets are missing; "unknown" when they cannot be listed. */
async function reportSecrets(team: string): Promise<"ready" | "missing" | "unknown"> {
  const deployed = await deployedSecrets(team);
  if (!deployed.ok) {
    const { missing } = missingSecrets(config, team, new Set());
    process.stdout.write(
      `Cannot check the deployed secrets: \`wrangler secret list --env ${team}\` failed (${deployed.reason}).\n` +
        "Offline, without a Cloudflare account (`npx wrangler login` or CLOUDFLARE_API_TOKEN), or before the first deploy, " +
        (missing.length > 0
          ? `this cannot be checked. Unless already set, the deploy needs:\n${missing.map((m) => `  - ${m}\n`).join("")}`
          : "this cannot be checked, but the deploy needs no secret.\n"),
    );
    return "unknown";
  }
  const report = missingSecrets(config, team, deployed.names);
  if (report.missing.length === 0) {
    process.stdout.write(`Secrets: ready (providers: ${report.providers.join(", ")}).\n`);
    return "ready";
  }
  process.stdout.write(
    `Secrets still missing for ${team}:\n${report.missing.map((m) => `  - ${m}\n`).join("")}` +
      `Set each with \`npx wrangler secret put <NAME> --env ${team}\`.\n`,
  );
  return "missing";
}

async function check(): Promise<number> {
  const team = chosenTeam();
  const configReady = reportConfig(team);
  const secrets = await reportSecrets(team);
  if (!configReady || secrets === "missing") return 1;
  return secrets === "unknown" ? 2 : 0;
}

async function deploy(): Promise<number> {
  const team = chosenTeam();
  if (!reportConfig(team)) return 1;
  const code = await new Promise<number>((done) => {
    const child = spawn(process.execPath, [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--config", WRANGLER_TOML, "--env", team, ...passThrough], {
      cwd: ROOT,
      stdio: "inherit",
    });
    child.once("exit", (exitCode) => done(exitCode ?? 1));
  });
  if (code !== 0) return code;
  return (await reportSecrets(team)) === "missing" ? 1 : 0;
}

/** `wrangler deploy --dry-run` needs no account: it bundles and validates the configuration only. */
async function dryRunAll(): Promise<number> {
  for (const team of [undefined, ...teams]) {
    const outdir = mkdtempSync(join(tmpdir(), "zen-dry-run-"));
    try {
      const result = await runWrangler(["deploy", "--dry-run", "--outdir", outdir, ...(team ? ["--env", team] : [])], 180_000);
      const label = team ? `--env ${team}` : "top level";
      if (result.code !== 0) {
        process.stderr.write(`wrangler deploy --dry-run (${label}) failed:\n${result.stdout}${result.stderr}\n`);
        return 1;
      }
      process.stdout.write(`wrangler deploy --dry-run (${label}): ok\n`);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }
  return 0;
}

switch (command) {
  case "check":
    process.exit(await check());
  case "deploy":
    process.exit(await deploy());
  case "dry-run":
    process.exit(await dryRunAll());
  default:
    fail(USAGE);
}
