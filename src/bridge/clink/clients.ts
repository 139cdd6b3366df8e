/**
 * The AI CLIs clink can run, as data: shipped defaults for Claude Code, Codex and Gemini CLI,
 * and the user's own JSON files in `$XDG_CONFIG_HOME/zen-mcp-worker/cli_clients/` (by default
 * `~/.config/zen-mcp-worker/cli_clients/`). A file naming a shipped CLI changes the fields it
 * gives (roles one by one); a file with a new name adds a CLI.
 *
 * Read-only by default: every shipped command runs in the CLI's own read-only mode, and none
 * carries a write or sandbox-bypass flag; only a user's own definition can add one.
 */
import { readdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { PARSERS, type ParserName } from "./parsers.ts";
import { ROLE_PROMPTS, ROLES, type Role } from "./roles.ts";

export interface CliClient {
  name: string;
  command: string;
  /** Arguments before the role prompt flag; the request itself goes to stdin. */
  args: string[];
  parser: ParserName;
  /** The flag that takes the role prompt as a system prompt; without one, the prompt text starts with it. */
  rolePromptFlag?: string;
  timeoutMs: number;
  roles: Record<Role, string>;
}

export const DEFAULT_TIMEOUT_SECONDS = 30 * 60;

const SHIPPED: CliClient[] = [
  {
    name: "claude",
    command: "claude",
    // dontAsk: whatever would need a permission (edits, shell commands) is denied, reads are not.
    args: ["--print", "--output-format", "json", "--permission-mode", "dontAsk"],
    parser: "claude-json",
    rolePromptFlag: "--append-system-prompt",
    timeoutMs: DEFAULT_TIMEOUT_SECONDS * 1000,
    roles: ROLE_PROMPTS,
  },
  {
    name: "codex",
    command: "codex",
    // `-`: the instructions come from stdin.
    args: ["exec", "--json", "--sandbox", "read-only", "--skip-git-repo-check", "-"],
    parser: "codex-jsonl",
    timeoutMs: DEFAULT_TIMEOUT_SECONDS * 1000,
    roles: ROLE_PROMPTS,
  },
  {
    name: "gemini",
    command: "gemini",
    // Headless (stdin is not a terminal). Not `plan`: headless, leaving plan mode switches to yolo.
    // In `default`, a tool that would ask for approval is denied when nobody can answer.
    args: ["--output-format", "json", "--approval-mode", "default"],
    parser: "gemini-json",
    timeoutMs: DEFAULT_TIMEOUT_SECONDS * 1000,
    roles: ROLE_PROMPTS,
  },
];

const userDefinition = z.strictObject({
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/, "lower-case letters, digits, '_' or '-', at most 32"),
  command: z.string().min(1).optional(),
  args: z.array(z.string()).optional(),
  parser: z.enum(PARSERS).optional(),
  role_prompt_flag: z.string().min(1).nullable().optional(),
  timeout_seconds: z.number().positive().max(24 * 3600).optional(),
  roles: z.partialRecord(z.enum(ROLES), z.string().min(1)).optional(),
});

type UserDefinition = z.infer<typeof userDefinition>;

export function configDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const base = env["XDG_CONFIG_HOME"] || join(homedir(), ".config");
  return join(base, "zen-mcp-worker", "cli_clients");
}

function merge(base: CliClient | undefined, user: UserDefinition): CliClient {
  const command = user.command ?? base?.command;
  const parser = user.parser ?? base?.parser;
  if (command === undefined || parser === undefined) {
    throw new Error(`a new CLI needs "command" and "parser" (one of ${PARSERS.join(", ")})`);
  }
  const rolePromptFlag = user.role_prompt_flag === null ? undefined : (user.role_prompt_flag ?? base?.rolePromptFlag);
  return {
    name: user.name,
    command,
    args: user.args ?? base?.args ?? [],
    parser,
    ...(rolePromptFlag !== undefined ? { rolePromptFlag } : {}),
    timeoutMs: user.timeout_seconds !== undefined ? user.timeout_seconds * 1000 : (base?.timeoutMs ?? DEFAULT_TIMEOUT_SECONDS * 1000),
    roles: { ...(base?.roles ?? ROLE_PROMPTS), ...user.roles },
  };
}

/**
 * The CLIs clink offers. A user file that cannot be read or is invalid is skipped with a
 * warning (the bridge still starts); the warning says which file and what is wrong.
 */
export async function loadCliClients(directory: string, warn: (line: string) => void): Promise<CliClient[]> {
  const clients = new Map(SHIPPED.map((client) => [client.name, client]));
  let names: string[];
  try {
    names = (await readdir(directory)).filter((name) => name.endsWith(".json")).sort();
  } catch {
    return [...clients.values()];
  }
  for (const name of names) {
    const file = join(directory, name);
    try {
      const parsed = userDefinition.safeParse(JSON.parse(await readFile(file, "utf8")));
      if (!parsed.success) throw new Error(z.prettifyError(parsed.error));
      clients.set(parsed.data.name, merge(clients.get(parsed.data.name), parsed.data));
    } catch (error) {
      warn(`clink: skipped the CLI definition ${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return [...clients.values()];
}
