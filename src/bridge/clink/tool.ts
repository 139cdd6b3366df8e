/**
 * `clink`: hands a prompt to an AI CLI on the user's machine (Claude Code, Codex, Gemini CLI)
 * and answers with what it said, in the envelope the server's tools answer with. The bridge
 * adds it to the tools it forwards, because only the user's machine can start a process. The
 * exchange is stored in the server's thread, so `chat` and the workflow tools continue it, and
 * a `continuation_id` given to clink shows that thread's history to the CLI.
 */
import { isAbsolute } from "node:path";
import type { CallToolResult, Tool } from "@modelcontextprotocol/server";
import { z } from "zod";
import { MAX_EXCHANGE_PROMPT_CHARS, type StoredExchange } from "../../core/wire-contract.ts";
import type { RemoteOptions } from "../remote.ts";
import { configDirectory, type CliClient } from "./clients.ts";
import { limitAnswer } from "./output.ts";
import { OutputError, parsers, type MetadataValue, type ParsedAnswer } from "./parsers.ts";
import { ROLES } from "./roles.ts";
import { MAX_STREAM_BYTES, runCli, type RunOutcome } from "./run.ts";
import { readThread, renderThread, storeExchange } from "./threads.ts";

export const CLINK_TOOL = "clink";

/** While the CLI works, a progress note this often: clients that reset their timeout on progress keep waiting. */
const HEARTBEAT_MS = 20_000;

export function clinkTool(clients: CliClient[]): Tool {
  const names = clients.map((client) => client.name);
  return {
    name: CLINK_TOOL,
    title: "Ask an AI CLI on this machine",
    description:
      `Hand a prompt to an AI coding CLI installed on this machine (${names.join(", ")}) and return its answer: a second ` +
      "agent with its own tools and context, run read-only by the zen-mcp-worker bridge. Returns a continuation_id " +
      "that clink, chat and the other tools continue.",
    inputSchema: {
      type: "object",
      properties: {
        prompt: { type: "string", description: "The request for the CLI, with the context it needs." },
        cli_name: { type: "string", enum: names, ...(names.length === 1 ? { default: names[0] } : {}) },
        role: { type: "string", enum: [...ROLES], default: "default" },
        absolute_file_paths: { type: "array", items: { type: "string" }, description: "Files the CLI should read itself." },
        images: { type: "array", items: { type: "string" }, description: "Absolute paths of images for the CLI." },
        continuation_id: { type: "string" },
      },
      required: names.length === 1 ? ["prompt"] : ["prompt", "cli_name"],
    },
    outputSchema: { type: "object", required: ["status"] },
    annotations: { readOnlyHint: true, openWorldHint: true },
  };
}

const absolutePath = z.string().refine(isAbsolute, "must be an absolute path");

function argumentSchema(clients: CliClient[]) {
  const names = clients.map((client) => client.name) as [string, ...string[]];
  const cliName = z.enum(names);
  return z.strictObject({
    prompt: z.string().min(1),
    cli_name: names.length === 1 ? cliName.default(names[0]) : cliName,
    role: z.enum(ROLES).default("default"),
    absolute_file_paths: z.array(absolutePath).default([]),
    images: z.array(absolutePath).default([]),
    continuation_id: z.string().optional(),
  });
}

type ClinkArguments = z.infer<ReturnType<typeof argumentSchema>>;

interface Envelope {
  status: string;
  content: string;
  content_type: "text";
  metadata: Record<string, MetadataValue>;
  continuation_offer: { continuation_id: string; note: string; remaining_turns: number } | null;
}

/** As the server's tools answer: the same JSON as structured content and as text. */
function answer(envelope: Envelope, isError = false): CallToolResult {
  return {
    ...(isError ? { isError: true } : {}),
    content: [{ type: "text", text: JSON.stringify(envelope) }],
    structuredContent: { ...envelope },
  };
}

function failure(message: string, metadata: Record<string, MetadataValue> = {}): CallToolResult {
  return answer({ status: "error", content: message, content_type: "text", metadata: { tool_name: CLINK_TOOL, ...metadata }, continuation_offer: null }, true);
}

export interface ClinkContext {
  remote: RemoteOptions;
  clients: CliClient[];
  /** Where the CLI runs: the bridge's working directory. */
  cwd: string;
  signal: AbortSignal;
  progress(message: string): void;
}

/** What the CLI reads on stdin: the role (unless it has a flag for it), the history, the request, the files by path. */
function cliInput(client: CliClient, args: ClinkArguments, history: string | undefined): string {
  return [
    ...(client.rolePromptFlag ? [] : [client.roles[args.role], ""]),
    ...(history ? [history, ""] : []),
    "=== USER REQUEST ===",
    args.prompt,
    ...(args.absolute_file_paths.length > 0 ? ["", "=== FILE REFERENCES ===", ...args.absolute_file_paths.map((path) => `- ${path}`)] : []),
    ...(args.images.length > 0 ? ["", "=== IMAGES ===", ...args.images.map((path) => `- ${path}`)] : []),
    "",
    "Answer the request above.",
  ].join("\n");
}

function cliArguments(client: CliClient, args: ClinkArguments): string[] {
  return [...client.args, ...(client.rolePromptFlag ? [client.rolePromptFlag, client.roles[args.role]] : [])];
}

/** The request as the thread keeps it: the prompt, and the files by path (the server never saw them). */
function storedPrompt(args: ClinkArguments): string {
  const references = [...args.absolute_file_paths, ...args.images];
  const text = references.length > 0 ? `${args.prompt}\n\n(Files referenced: ${references.join(", ")})` : args.prompt;
  return text.slice(0, MAX_EXCHANGE_PROMPT_CHARS);
}

function tail(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > 1_000 ? `...${trimmed.slice(-1_000)}` : trimmed;
}

/** A run that gave no output to parse, explained: which CLI, what happened, what to do. */
function runFailure(client: CliClient, outcome: Exclude<RunOutcome, { kind: "exited" }>, commandLine: string): string {
  const definition = `${configDirectory()}/${client.name}.json`;
  switch (outcome.kind) {
    case "missing":
      return (
        `clink could not start ${client.name}: the command '${client.command}' was not found or cannot be run (${outcome.detail}). ` +
        `Install ${client.name} so that '${client.command}' is on the PATH the bridge runs with, or set "command" in ${definition}.`
      );
    case "timeout":
      return (
        `${client.name} did not finish within ${Math.round(client.timeoutMs / 1000)} s and was stopped, with every process it started. ` +
        `Ask for a smaller task, or raise "timeout_seconds" in ${definition}.`
      );
    case "cancelled":
      return `The call was cancelled: ${client.name} was stopped, with every process it started.`;
    case "too_large":
      return (
        `${client.name} wrote more than ${MAX_STREAM_BYTES} bytes to ${outcome.stream} and was stopped (${commandLine}). ` +
        "Ask for a shorter answer, or one part of the task at a time."
      );
  }
}

/** Runs clink for one tools/call; every failure is an isError result that names the CLI and what to do. */
export async function runClink(rawArguments: Record<string, unknown> | undefined, ctx: ClinkContext): Promise<CallToolResult> {
  const parsed = argumentSchema(ctx.clients).safeParse(rawArguments ?? {});
  if (!parsed.success) return failure(`Invalid arguments for clink: ${z.prettifyError(parsed.error)}\nFix them and call clink again.`);
  const args = parsed.data;
  const client = ctx.clients.find((candidate) => candidate.name === args.cli_name);
  if (!client) return failure(`No CLI named '${args.cli_name}' is configured.`);
  if (args.prompt.length > MAX_EXCHANGE_PROMPT_CHARS) {
    return answer(
      {
        status: "resend_prompt",
        content:
          `The prompt is ${args.prompt.length} characters, over clink's limit of ${MAX_EXCHANGE_PROMPT_CHARS}. ` +
          "Put the long text in a file, name it in absolute_file_paths, keep the prompt short, and call again.",
        content_type: "text",
        metadata: { tool_name: CLINK_TOOL, prompt_size: args.prompt.length, limit: MAX_EXCHANGE_PROMPT_CHARS },
        continuation_offer: null,
      },
      true,
    );
  }

  let history: string | undefined;
  if (args.continuation_id !== undefined) {
    try {
      const thread = await readThread(ctx.remote, args.continuation_id, ctx.signal);
      if (thread.remaining_turns < 2) {
        return failure(`Conversation thread '${args.continuation_id}' has no room for another exchange. Call clink again without continuation_id, restating what matters.`);
      }
      history = renderThread(thread);
    } catch (error) {
      return failure(`clink could not continue the conversation: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  const cliArgs = cliArguments(client, args);
  // The role prompt is long and said elsewhere: the metadata shows the flag, not its text.
  const commandLine = [client.command, ...client.args, ...(client.rolePromptFlag ? [client.rolePromptFlag, `<${args.role} role prompt>`] : [])].join(" ");
  const base = { tool_name: CLINK_TOOL, cli_name: client.name, role: args.role, command: commandLine, parser: client.parser };
  const started = Date.now();
  ctx.progress(`clink: ${client.name} is working on it`);
  const heartbeat = setInterval(() => ctx.progress(`clink: ${client.name} is still working (${Math.round((Date.now() - started) / 1000)} s)`), HEARTBEAT_MS);
  let outcome: RunOutcome;
  try {
    outcome = await runCli({ command: client.command, args: cliArgs, input: cliInput(client, args, history), cwd: ctx.cwd, timeoutMs: client.timeoutMs, signal: ctx.signal });
  } finally {
    clearInterval(heartbeat);
  }
  const durationSeconds = Math.round((Date.now() - started) / 100) / 10;
  if (outcome.kind !== "exited") return failure(runFailure(client, outcome, commandLine), { ...base, duration_seconds: durationSeconds });
  const ran = { ...base, duration_seconds: durationSeconds, return_code: outcome.code };
  if (outcome.code !== 0) {
    const said = tail(outcome.stderr) || tail(outcome.stdout) || "no output";
    const how = outcome.signal ? `was ended by ${outcome.signal}` : `exited with code ${outcome.code}`;
    return failure(
      `${client.name} ${how}: ${said}\nCheck that '${commandLine}' works when run by hand in ${ctx.cwd} (installed, signed in, its model available).`,
      ran,
    );
  }

  let reply: ParsedAnswer;
  try {
    reply = parsers[client.parser](outcome.stdout);
  } catch (error) {
    if (!(error instanceof OutputError)) throw error;
    return failure(
      `clink could not read ${client.name}'s output (${client.parser}): ${error.message}\n` +
        `Check that the installed ${client.name} accepts '${commandLine}', or fix "args" and "parser" in ${configDirectory()}/${client.name}.json.`,
      ran,
    );
  }
  const limited = limitAnswer(reply.content, client.name);
  const metadata: Record<string, MetadataValue> = {
    ...ran,
    ...reply.metadata,
    ...(limited.shortened ? { output_shortened_to: limited.shortened, original_chars: limited.originalChars } : {}),
  };

  let stored: StoredExchange | undefined;
  try {
    stored = await storeExchange(ctx.remote, args.continuation_id, {
      tool: CLINK_TOOL,
      agent: client.name,
      prompt: storedPrompt(args),
      answer: limited.content,
      metadata: { role: args.role },
    });
  } catch (error) {
    // The answer is still worth having; only the thread is missing, and no id is handed out for it.
    metadata["thread_not_stored"] = error instanceof Error ? error.message : String(error);
  }
  const offer =
    stored && stored.remaining_turns > 0
      ? {
          continuation_id: stored.continuation_id,
          note: `You can continue this conversation for ${stored.remaining_turns} more turns (an exchange takes two): pass this continuation_id to clink, chat or any other tool.`,
          remaining_turns: stored.remaining_turns,
        }
      : null;
  return answer({
    status: offer ? "continuation_available" : "success",
    content: `${limited.content}\n\n---\n\nAGENT'S TURN: ${client.name} answered from its own context; check its claims against the code before acting on them.`,
    content_type: "text",
    metadata,
    continuation_offer: offer,
  });
}
