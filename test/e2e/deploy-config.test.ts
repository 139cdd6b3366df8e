/**
 * Per-team deploys: every [env.*] of wrangler.toml repeats the top level's bindings (wrangler does
 * not inherit them, and a deploy without one fails only at run time), and `deploy:check` says
 * what a team's deploy still lacks, or plainly that it cannot check without an account.
 */
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseProviders, PROVIDERS } from "../../src/providers/catalog";
import {
  deployProblems,
  environmentsOf,
  missingBindings,
  missingSecrets,
  PROVIDER_SECRETS,
  readWranglerConfig,
  ROOT,
} from "../../scripts/team-deploy.ts";

type Table = Record<string, any>;

describe("wrangler.toml environments", () => {
  it("has a team environment, and each repeats every binding and var of the top level", () => {
    const config = readWranglerConfig();
    const teams = environmentsOf(config);
    expect(teams).toContain("example-team");
    for (const team of teams) expect(missingBindings(config, team), `[env.${team}]`).toEqual([]);
  });

  it("runs the model catalog's refresh on a cron trigger at the top level and in every environment (triggers are not inherited)", () => {
    const config: Table = readWranglerConfig();
    expect(config.triggers?.crons).toEqual(["17 4 * * *"]);
    for (const team of environmentsOf(config)) expect(config.env[team].triggers?.crons, `[env.${team}.triggers]`).toEqual(config.triggers.crons);
  });

  it("finds a Durable Object, a var, a KV namespace or a whole binding kind that an environment left out", () => {
    const config: Table = structuredClone(readWranglerConfig());
    const env = config.env["example-team"];
    env.durable_objects.bindings = env.durable_objects.bindings.filter((b: Table) => b.name !== "BLOBS");
    delete env.vars.LOCALE;
    delete env.kv_namespaces;
    config.r2_buckets = [{ binding: "FILES", bucket_name: "files" }];
    config.browser = { binding: "BROWSER" };
    expect(missingBindings(config, "example-team")).toEqual([
      "vars: LOCALE",
      "durable_objects: bindings.BLOBS",
      "kv_namespaces: CACHE",
      "kv_namespaces: OAUTH_KV",
      "r2_buckets: FILES",
      "browser: BROWSER",
    ]);
    expect(missingBindings(config, "no-such-team")).toEqual(["[env.no-such-team] is not in wrangler.toml"]);
  });

  it("refuses the example's placeholder KV id and empty ALLOWED_HOSTNAMES for a deploy, and accepts real ones", () => {
    const config: Table = structuredClone(readWranglerConfig());
    const problems = deployProblems(config, "example-team");
    expect(problems).toHaveLength(3);
    expect(problems[0]).toContain("npx wrangler kv namespace create CACHE --env example-team");
    expect(problems[1]).toContain("npx wrangler kv namespace create OAUTH_KV --env example-team");
    expect(problems[2]).toContain("ALLOWED_HOSTNAMES is empty");
    const env = config.env["example-team"];
    env.kv_namespaces[0].id = "0123456789abcdef0123456789abcdef";
    env.kv_namespaces[1].id = "fedcba9876543210fedcba9876543210";
    env.vars.ALLOWED_HOSTNAMES = "zen-mcp-worker-example-team.acme.workers.dev";
    expect(deployProblems(config, "example-team")).toEqual([]);
  });
});

describe("required secrets", () => {
  const team = (vars: Record<string, string>, ai: boolean): Table => ({ env: { t: { vars, ...(ai ? { ai: { binding: "AI" } } : {}) } } });

  it("asks for TEAM_TOKENS and one whole provider: a key set or the AI binding", () => {
    expect(missingSecrets(team({}, false), "t", new Set()).missing).toEqual(["TEAM_TOKENS", expect.stringMatching(/^a provider: the AI binding, or one of GEMINI_API_KEY, /)]);
    expect(missingSecrets(team({}, false), "t", new Set(["TEAM_TOKENS", "AZURE_OPENAI_API_KEY"])).missing).toEqual([expect.stringContaining("AZURE_OPENAI_API_KEY + AZURE_OPENAI_ENDPOINT")]);
    // An endpoint set as a var counts: only the key is a secret.
    expect(missingSecrets(team({ AZURE_OPENAI_ENDPOINT: "https://acme.openai.azure.com" }, false), "t", new Set(["TEAM_TOKENS", "AZURE_OPENAI_API_KEY"]))).toEqual({
      missing: [],
      providers: ["AZURE_OPENAI_API_KEY + AZURE_OPENAI_ENDPOINT"],
    });
    expect(missingSecrets(team({}, true), "t", new Set())).toEqual({ missing: ["TEAM_TOKENS"], providers: ["AI binding"] });
    expect(missingSecrets(readWranglerConfig(), "example-team", new Set(["TEAM_TOKENS"]))).toEqual({ missing: [], providers: ["AI binding"] });
  });

  it("needs no TEAM_TOKENS on a deploy opened with ALLOW_UNAUTHENTICATED=true, and refuses both together", () => {
    const open = team({ ALLOW_UNAUTHENTICATED: "true" }, true);
    expect(missingSecrets(open, "t", new Set()).missing).toEqual([]);
    expect(missingSecrets(open, "t", new Set(["TEAM_TOKENS"])).missing).toEqual([expect.stringContaining("contradicts TEAM_TOKENS")]);
  });

  it("lists exactly the variables that configure each provider of the server", () => {
    // The script runs under plain Node, which cannot load the catalog: its list is held to it here.
    const keyed = PROVIDERS.filter((p) => p.requiredVariables.length > 0).map((p) => p.requiredVariables.join(" + "));
    expect(PROVIDER_SECRETS.map((names) => names.join(" + ")).sort()).toEqual(keyed.sort());
    const value = (name: string) => (name.endsWith("_URL") || name.endsWith("_ENDPOINT") ? "https://models.example.com/v1" : "key");
    for (const names of PROVIDER_SECRETS) {
      const all = parseProviders(Object.fromEntries(names.map((name) => [name, value(name)])));
      expect(all, names.join(" + ")).toHaveLength(1);
      for (const left of names) {
        const partial = parseProviders(Object.fromEntries(names.filter((n) => n !== left).map((name) => [name, value(name)])));
        expect(partial, `${names.join(" + ")} without ${left}`).toHaveLength(0);
      }
    }
  });
});

describe("npm run deploy:check", () => {
  it("lists what the example still needs and says plainly that it cannot check secrets without an account", async () => {
    // No Cloudflare credentials at all: an empty home (wrangler keeps its login there) and no token in the environment.
    const home = mkdtempSync(join(tmpdir(), "zen-no-account-"));
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, ".config") };
    delete env.CLOUDFLARE_API_TOKEN;
    delete env.CLOUDFLARE_ACCOUNT_ID;
    const result = await new Promise<{ code: number; stdout: string }>((done) => {
      execFile(process.execPath, [join(ROOT, "scripts/deploy.ts"), "check", "--env", "example-team"], { cwd: ROOT, env, timeout: 90_000 }, (error, stdout) =>
        done({ code: error ? Number(error.code ?? 1) : 0, stdout }),
      );
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("kv namespace create CACHE --env example-team");
    expect(result.stdout).toContain("Cannot check the deployed secrets: `wrangler secret list --env example-team` failed");
    // The example has the AI binding: a team token is all it needs.
    expect(result.stdout).toContain("Unless already set, the deploy needs:\n  - TEAM_TOKENS\n");
    expect(result.stdout).not.toContain("a provider");
  });
});
