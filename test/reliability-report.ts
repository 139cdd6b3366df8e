/**
 * Writes docs/RELIABILITY.md from a run of the reliability tests: the fault matrix, the fuzz
 * properties, the limits and kill -9. It runs them with vitest's JSON reporter and reports what
 * each test observed (its `observed` meta, set only once its assertions passed) and whether it
 * passed, so the document never states an outcome that was not observed.
 *
 *   npm run reliability                    # fuzz properties at FUZZ_RUNS (300 by default)
 *   FUZZ_RUNS=10000 npm run reliability    # the full fuzz run
 *
 * Exit code 1 when a test failed or did not run (the document is written all the same).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const OUTPUT = join(ROOT, "docs/RELIABILITY.md");

type Observed = Record<string, string | number | boolean>;

interface TestResult {
  file: string;
  ancestorTitles: string[];
  title: string;
  fullName: string;
  status: "passed" | "failed" | "skipped" | "pending" | "todo";
  duration?: number;
  failureMessages: string[];
  meta?: { observed?: Observed };
}

/** The limits and where each is tested: the file and a test's title (or part of it). */
const LIMITS: Array<{ limit: string; file: string; test: string; checks: string }> = [
  { limit: "/mcp request body (MAX_REQUEST_BODY_BYTES)", file: "test/worker/app.test.ts", test: "answers an oversized body with 413", checks: "413, JSON `payload_too_large` with a message" },
  { limit: "upload size (MAX_BLOB_BYTES) and team quota (TEAM_BLOB_QUOTA_BYTES)", file: "test/worker/files.test.ts", test: "over the size limit and over the team quota with 413", checks: "413 `too_large`; 413 `quota_exceeded`" },
  { limit: "images per call (5)", file: "test/worker/limits.test.ts", test: "count: more than 5", checks: "isError naming the limit; no model called" },
  { limit: "image type", file: "test/worker/limits.test.ts", test: "type: a file that is not an image", checks: "isError: not an image (uploaded file or data URL)" },
  { limit: "image size (20 MB each)", file: "test/worker/limits.test.ts", test: "size: an uploaded image over 20 MB", checks: "isError naming the file and the limit; the blob is not read" },
  { limit: "images for the model (vision, total size per model)", file: "test/worker/providers/call.test.ts", test: "limits the number and the size of images", checks: "final ProviderError naming the limit" },
  { limit: "chat prompt (MCP_PROMPT_SIZE_LIMIT)", file: "test/worker/conversations.test.ts", test: "answers an over-long prompt with resend_prompt", checks: "isError with status `resend_prompt`" },
  { limit: "workflow step (MCP_PROMPT_SIZE_LIMIT)", file: "test/worker/limits.test.ts", test: "a workflow step over MCP_PROMPT_SIZE_LIMIT", checks: "isError with status `resend_prompt`; nothing stored or called" },
  { limit: "one file over the model's file budget", file: "test/worker/tools.test.ts", test: "names a file left out for the budget in files_skipped", checks: "answered; the file in `metadata.files_skipped` with the reason" },
  { limit: "files sharing the model's file budget", file: "test/worker/limits.test.ts", test: "files that fit one by one but not together", checks: "answered; the later files in `files_skipped`, not sent" },
  { limit: "references per call (200) and files per call (400)", file: "test/worker/files.test.ts", test: "bounds the fan-out of file references", checks: "isError over 200 references; 400 files used, the rest in `files_skipped`" },
  { limit: "turns per thread (MAX_CONVERSATION_TURNS)", file: "test/worker/conversations.test.ts", test: "enforces the turn cap", checks: "no continuation offered at the cap; isError past it" },
  { limit: "thread TTL (CONVERSATION_TIMEOUT_HOURS), both sides", file: "test/worker/limits.test.ts", test: "alive just before CONVERSATION_TIMEOUT_HOURS", checks: "continues 1 minute before; isError 1 minute after" },
  { limit: "thread TTL, expiry by the alarm", file: "test/worker/conversations.test.ts", test: "expires a thread when its alarm runs after the TTL", checks: "the alarm deletes it; isError on continuation" },
];

const FILES = [
  "test/e2e/fault-matrix.test.ts",
  "test/worker/fuzz.test.ts",
  "test/e2e/kill9.test.ts",
  ...new Set(LIMITS.map((limit) => limit.file)),
];

function runTests(): { results: TestResult[]; seconds: number; exitCode: number } {
  const report = join(mkdtempSync(join(tmpdir(), "reliability-")), "vitest.json");
  const started = Date.now();
  const run = spawnSync(process.execPath, [join(ROOT, "node_modules/vitest/vitest.mjs"), "run", ...FILES, "--reporter=default", "--reporter=json", `--outputFile=${report}`], {
    cwd: ROOT,
    stdio: "inherit",
    env: process.env,
  });
  const json = JSON.parse(readFileSync(report, "utf8")) as {
    testResults: Array<{ name: string; assertionResults: Array<Omit<TestResult, "file">> }>;
  };
  const results = json.testResults.flatMap((file) =>
    file.assertionResults.map((test) => ({ ...test, file: file.name.startsWith(ROOT) ? file.name.slice(ROOT.length + 1) : file.name })),
  );
  return { results, seconds: Math.round((Date.now() - started) / 1000), exitCode: run.status ?? 1 };
}

const cell = (text: string | number | boolean) => String(text).replace(/\|/g, "\\|").replace(/\s+/g, " ");
const mark = (test: TestResult | undefined) => (test === undefined ? "not run" : test.status === "passed" ? "✅ passed" : `❌ ${test.status}`);

function table(header: string[], rows: Array<Array<string | number | boolean>>): string {
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((row) => `| ${row.map(cell).join(" | ")} |`)].join("\n");
}

function faultMatrix(results: TestResult[]): string {
  const cases = results.filter((test) => test.file === "test/e2e/fault-matrix.test.ts" && test.ancestorTitles.at(-1)?.startsWith("fault matrix: provider"));
  const split = (title: string) => {
    const at = title.indexOf(": ");
    return { target: title.slice(0, at), fault: title.slice(at + 2) };
  };
  const targets = [...new Set(cases.map((test) => split(test.title).target))];
  const faults = [...new Set(cases.map((test) => split(test.title).fault))];
  const find = (target: string, fault: string) => cases.find((test) => test.title === `${target}: ${fault}`);
  const grid = table(
    ["fault", ...targets],
    faults.map((fault) => [fault, ...targets.map((target) => (find(target, fault)?.status === "passed" ? "✅" : find(target, fault) ? "❌" : "–"))]),
  );
  const rows = faults.map((fault) => {
    const observed = targets.map((target) => find(target, fault)?.meta?.observed).find((o) => o !== undefined);
    return observed
      ? [fault, observed["kind"] ?? "", observed["breaker"] ?? "", observed["upstreamRequests"] ?? "", observed["thread"] ?? "", observed["message"] ?? ""]
      : [fault, "not observed", "", "", "", ""];
  });
  const server = results.find((test) => test.file === "test/e2e/fault-matrix.test.ts" && test.title.startsWith("never answered /mcp with a 5xx"));
  const passed = cases.filter((test) => test.status === "passed").length;
  const details = cases
    .filter((test) => test.meta?.observed)
    .map((test) => `- **${test.title}**: ${cell(String(test.meta?.observed?.["message"]))}`)
    .join("\n");
  return [
    "## Fault matrix",
    "",
    "`test/e2e/fault-matrix.test.ts`: one `wrangler dev` with every provider pointed at the fake upstream " +
      "(`PROVIDER_MAX_ATTEMPTS=2`, `PROVIDER_CALL_DEADLINE_SECONDS=3`, `BREAKER_FAILURE_THRESHOLD=2`), `chat` called " +
      "through the MCP SDK client, each case in a team of its own. A case passes when: the continuation of a thread and a " +
      "new call both fail with an isError naming the provider, the model and what to do; the failing call made the " +
      "expected number of upstream requests; the next call fails fast (breaker open, nothing sent) exactly when the fault " +
      "counts against the breaker; and a continuation on another provider is shown the thread's first exchange only.",
    "",
    `${passed} of ${cases.length} cases passed. /mcp never answered 5xx and no unexpected exception was logged: ${mark(server)}` +
      (server?.meta?.observed ? ` (${server.meta.observed["mcpResponses"]} /mcp responses, ${server.meta.observed["serverErrors"]} with a 5xx).` : "."),
    "",
    grid,
    "",
    "Per fault, as observed (the message is the first target's):",
    "",
    table(["fault", "kind", "circuit breaker", "upstream requests per call", "thread after the failed calls", "message"], rows),
    "",
    "<details><summary>Every case's message</summary>",
    "",
    details,
    "",
    "</details>",
  ].join("\n");
}

function fuzz(results: TestResult[], runs: string): string {
  const properties = results.filter((test) => test.file === "test/worker/fuzz.test.ts");
  const rows = properties.map((test) => {
    const { runs: count, seed, failures: _failures, ...rest } = test.meta?.observed ?? {};
    return [test.title, mark(test), count ?? "", seed ?? "", Object.entries(rest).map(([key, value]) => `${key}: ${value}`).join("; ")];
  });
  return [
    "## Fuzzing",
    "",
    "`test/worker/fuzz.test.ts`, inside workerd with fast-check; model calls answered by the in-isolate mock. Every answer " +
      "must be a well-formed JSON-RPC response or a 4xx with JSON `{error, message}` (a JSON-RPC error on /mcp), never a " +
      "5xx, a stack trace, a logged error or a hang (each request is bounded). Tool arguments come from each tool's " +
      "schema in tools/list and are mutated beyond it (wrong types, missing required fields, unknown fields, huge, deep, " +
      "unicode and path-traversal strings). A failing case is shrunk by fast-check and printed with its seed.",
    "",
    `Runs per property in this run: ${runs} (\`FUZZ_RUNS\`). Full run: \`FUZZ_RUNS=10000 npm run reliability\`.`,
    "",
    table(["property", "result", "runs", "seed", "observed"], rows),
  ].join("\n");
}

function limits(results: TestResult[]): string {
  const rows = LIMITS.map((limit) => {
    const test = results.find((t) => t.file === limit.file && t.title.includes(limit.test));
    const observed = test?.status === "passed" && test.meta?.observed ? Object.values(test.meta.observed).join("; ") : "";
    return [limit.limit, `${limit.file}: ${test?.title ?? limit.test}`, limit.checks, mark(test), observed];
  });
  return ["## Limits", "", table(["limit", "test", "what the test checks", "result", "observed"], rows)].join("\n");
}

function kill9(results: TestResult[]): string {
  const tests = results.filter((test) => test.file === "test/e2e/kill9.test.ts");
  return [
    "## kill -9",
    "",
    "`test/e2e/kill9.test.ts`: `wrangler dev` and its workerd are killed with SIGKILL mid-traffic and restarted on the same state.",
    "",
    table(["test", "result"], tests.map((test) => [test.title, mark(test)])),
  ].join("\n");
}

const { results, seconds, exitCode } = runTests();
const runs = process.env["FUZZ_RUNS"] ?? "300";
const failed = results.filter((test) => test.status === "failed");
const missing = LIMITS.filter((limit) => !results.some((t) => t.file === limit.file && t.title.includes(limit.test)));
const document = [
  "# Reliability",
  "",
  `Generated by \`npm run reliability\` (test/reliability-report.ts) on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC ` +
    `in ${seconds} s: ${results.filter((t) => t.status === "passed").length} tests passed, ${failed.length} failed, from ${FILES.length} files. ` +
    "Every outcome below is what a test observed in that run; rerun the command to refresh it.",
  "",
  faultMatrix(results),
  "",
  fuzz(results, runs),
  "",
  limits(results),
  "",
  kill9(results),
  "",
].join("\n");
writeFileSync(OUTPUT, document);
console.log(`wrote ${OUTPUT}: ${failed.length} failed, ${missing.length} limits without a test run`);
process.exit(exitCode !== 0 || failed.length > 0 || missing.length > 0 ? 1 : 0);
