/**
 * What a team's deploy needs, read from wrangler.toml: its environment repeats every binding of
 * the top level (wrangler does not inherit them), its KV ids are real, its hostnames are set, and
 * the secrets it runs on exist. Used by scripts/deploy.ts and the deploy-config test.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { parse } from "smol-toml";

export const ROOT = resolve(import.meta.dirname, "..");
export const WRANGLER_TOML = join(ROOT, "wrangler.toml");
const WRANGLER_BIN = join(ROOT, "node_modules/wrangler/bin/wrangler.js");

type Table = Record<string, unknown>;

function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function readWranglerConfig(path = WRANGLER_TOML): Table {
  return parse(readFileSync(path, "utf8"));
}

/** The `[env.<name>]` blocks of a configuration: one per team. */
export function environmentsOf(config: Table): string[] {
  return isTable(config.env) ? Object.keys(config.env) : [];
}

/**
 * Top-level keys an `[env.*]` block does not inherit (wrangler 4.164's list): every kind of
 * binding, vars and the declared secrets. Migrations, main and flags are inherited.
 */
const NOT_INHERITED = [
  "vars", "secrets", "define", "durable_objects", "workflows", "kv_namespaces", "cloudchamber", "containers", "send_email",
  "queues", "connect", "r2_buckets", "d1_databases", "vectorize", "ai_search_namespaces", "ai_search", "agent_memory",
  "hyperdrive", "services", "analytics_engine_datasets", "dispatch_namespaces", "mtls_certificates", "tail_consumers",
  "streaming_tail_consumers", "unsafe", "browser", "analytics", "ai", "images", "stream", "media", "pipelines", "k2",
  "secrets_store_secrets", "artifacts", "unsafe_hello_world", "flagship", "worker_loaders", "ratelimits", "vpc_services",
  "vpc_networks", "version_metadata",
];

function nameOf(entry: unknown): string {
  if (typeof entry === "string") return entry;
  if (isTable(entry)) {
    for (const key of ["binding", "name", "queue", "service"]) if (typeof entry[key] === "string") return entry[key];
  }
  return JSON.stringify(entry);
}

/** The names a section binds: var names, binding names of a list, or of a table's lists. */
function namesIn(key: string, section: unknown): string[] {
  if (key === "vars" || key === "define") return isTable(section) ? Object.keys(section) : [];
  if (Array.isArray(section)) return section.map(nameOf);
  if (isTable(section)) {
    if (typeof section.binding === "string") return [section.binding];
    return Object.entries(section).flatMap(([list, entries]) => (Array.isArray(entries) ? entries.map((e) => `${list}.${nameOf(e)}`) : []));
  }
  return [];
}

/** What the top level binds and `[env.<name>]` does not, as "section: name" lines. */
export function missingBindings(config: Table, environment: string): string[] {
  const env = isTable(config.env) ? config.env[environment] : undefined;
  if (!isTable(env)) return [`[env.${environment}] is not in wrangler.toml`];
  return NOT_INHERITED.filter((key) => config[key] !== undefined).flatMap((key) => {
    const top = namesIn(key, config[key]);
    if (env[key] === undefined) return top.length > 0 ? top.map((name) => `${key}: ${name}`) : [key];
    const own = new Set(namesIn(key, env[key]));
    return top.filter((name) => !own.has(name)).map((name) => `${key}: ${name}`);
  });
}

const KV_ID = /^[0-9a-f]{32}$/;

/** Everything that would make a team's deploy fail or refuse its clients, with what to do. */
export function deployProblems(config: Table, environment: string): string[] {
  const missing = missingBindings(config, environment);
  const env = isTable(config.env) ? config.env[environment] : undefined;
  if (!isTable(env)) return missing;
  const problems = missing.map((line) => `missing in [env.${environment}] (bindings are not inherited): ${line}`);
  const namespaces = Array.isArray(env.kv_namespaces) ? env.kv_namespaces : [];
  for (const namespace of namespaces) {
    const id = isTable(namespace) ? namespace.id : undefined;
    if (typeof id !== "string" || !KV_ID.test(id)) {
      const binding = nameOf(namespace);
      problems.push(
        `kv_namespaces ${binding}: '${String(id)}' is not a KV namespace id. Create one with ` +
          `\`npx wrangler kv namespace create ${binding} --env ${environment}\` and put its id in wrangler.toml.`,
      );
    }
  }
  const hostnames = isTable(env.vars) ? env.vars.ALLOWED_HOSTNAMES : undefined;
  if (typeof hostnames !== "string" || hostnames.trim() === "") {
    problems.push(
      `ALLOWED_HOSTNAMES is empty in [env.${environment}.vars]: the deploy would refuse every request. Set it to the ` +
        `hostname clients use (zen-mcp-worker-${environment}.<account subdomain>.workers.dev, or a custom domain).`,
    );
  }
  return problems;
}

/**
 * The secrets a team's deploy runs on: TEAM_TOKENS (unless the env opens it with
 * ALLOW_UNAUTHENTICATED=true), and a provider: the `AI` binding or every name of one set below.
 */
export const PROVIDER_SECRETS: ReadonlyArray<readonly string[]> = [
  ["GEMINI_API_KEY"],
  ["OPENAI_API_KEY"],
  ["AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"],
  ["XAI_API_KEY"],
  ["ANTHROPIC_API_KEY"],
  ["DIAL_API_KEY"],
  ["OPENROUTER_API_KEY"],
  ["CUSTOM_API_URL"],
];

export interface SecretReport {
  /** What to set with `wrangler secret put` (a provider key is listed as a choice), or to fix. */
  missing: string[];
  /** The providers the deploy will have: "AI binding" or the names of a key set. */
  providers: string[];
}

/** Which secrets a team's deploy still lacks, given the names set as secrets (its vars count too). */
export function missingSecrets(config: Table, environment: string, secrets: ReadonlySet<string>): SecretReport {
  const env = isTable(config.env) ? config.env[environment] : undefined;
  const vars = isTable(env) && isTable(env.vars) ? env.vars : {};
  const set = new Set([...secrets, ...Object.keys(vars).filter((name) => typeof vars[name] === "string" && vars[name].trim() !== "")]);
  const missing: string[] = [];
  if (vars.ALLOW_UNAUTHENTICATED === "true") {
    if (set.has("TEAM_TOKENS")) missing.push("ALLOW_UNAUTHENTICATED=true contradicts TEAM_TOKENS: the server refuses to start with both; drop one");
  } else if (!set.has("TEAM_TOKENS")) {
    missing.push("TEAM_TOKENS");
  }
  const providers = [
    ...(isTable(env) && isTable(env.ai) ? ["AI binding"] : []),
    ...PROVIDER_SECRETS.filter((names) => names.every((name) => set.has(name))).map((names) => names.join(" + ")),
  ];
  if (providers.length === 0) {
    missing.push(`a provider: the AI binding, or one of ${PROVIDER_SECRETS.map((names) => names.join(" + ")).join(", ")}`);
  }
  return { missing, providers };
}

export type DeployedSecrets = { ok: true; names: Set<string> } | { ok: false; reason: string };

/** Runs wrangler with the repository's config, never waiting on a prompt, for at most `timeoutMs`; output without colours. */
export function runWrangler(args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [WRANGLER_BIN, ...args, "--config", WRANGLER_TOML],
      { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" } },
      (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout: stripVTControlCharacters(stdout), stderr: stripVTControlCharacters(stderr) }),
    );
  });
}

/** The secret names of a deployed team Worker, or why they could not be listed (offline, no account, not deployed). */
export async function deployedSecrets(environment: string): Promise<DeployedSecrets> {
  const result = await runWrangler(["secret", "list", "--env", environment, "--format", "json"], 60_000);
  if (result.code === 0) {
    try {
      const listed: unknown = JSON.parse(result.stdout);
      if (Array.isArray(listed)) return { ok: true, names: new Set(listed.map(nameOf)) };
    } catch {
      // reported below
    }
  }
  const why = `${result.stderr}\n${result.stdout}`
    .split("\n")
    .map((line) => line.replace(/^[✘▲\s]*(\[ERROR\])?\s*/, "").trim())
    .find((line) => line !== "" && !line.startsWith("⛅️") && !/^[─-]+$/.test(line));
  return { ok: false, reason: why ?? `wrangler exited with ${result.code}` };
}
