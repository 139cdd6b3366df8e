/**
 * The model catalog end to end (issue 19's "done means"): the real worker under
 * `wrangler dev --test-scheduled` with only an OpenAI key, the fake upstream as OpenAI and as the
 * public catalog on loopback. A model the catalog publishes (a name in no shipped file) answers by
 * its bare name through the OpenAI key after `GET /__scheduled`, is listed with the catalog's
 * source and age, and is priced from the catalog; a refresh that fails keeps the last good one.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { beforeAll, describe, expect, it } from "vitest";
import type { CatalogStatus } from "../../src/providers/model-catalog.ts";
import type { UsageReport } from "../../src/providers/usage.ts";
import type { FakeUpstream } from "../fake-upstream/server.ts";
import { fullCatalog, openRouterModel } from "../fixtures/model-catalog.ts";
import { e2eStack } from "../support/e2e-stack.ts";
import { callTool, connectMcp } from "../support/mcp-session.ts";
import type { WorkerProcess } from "../support/worker-process.ts";

/** A model in no shipped file, at $2 and $8 per million input and output tokens. */
const NEW_MODEL = "gpt-6-preview";
const PUBLISHED = [openRouterModel(`openai/${NEW_MODEL}`, { context: 1_000_000, maxOutput: 100_000, input: 2, output: 8, images: true }), ...fullCatalog(300)];

let upstream: FakeUpstream;
let worker: WorkerProcess;
let client: Client;
let catalogUrl: string;

const stack = e2eStack();

beforeAll(async () => {
  upstream = await stack.upstream();
  catalogUrl = `${upstream.url}/api/v1/models`;
  worker = await stack.worker({
    vars: { OPENAI_API_KEY: "sk-catalog-test", OPENAI_BASE_URL: `${upstream.url}/v1`, MODEL_CATALOG_URL: catalogUrl },
    testScheduled: true,
  });
  client = await stack.client(connectMcp(worker.mcpUrl));
});

/** Runs the cron trigger as `wrangler dev --test-scheduled` does, and waits for it to finish. */
async function runScheduled(): Promise<void> {
  const response = await fetch(`${worker.url}/__scheduled`);
  expect(response.status).toBe(200);
  await response.text();
}

/** The catalog as /health shows it to a caller who may use the server (loopback, no TEAM_TOKENS). */
async function healthCatalog(): Promise<CatalogStatus> {
  const response = await fetch(`${worker.url}/health`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { catalog: CatalogStatus }).catalog;
}

/** The ledger is written after each reply: wait (bounded) until it shows the model. */
async function usageWith(model: string): Promise<UsageReport> {
  let report: UsageReport | undefined;
  for (let attempt = 0; attempt < 100; attempt++) {
    report = (await (await fetch(`${worker.url}/v1/usage`)).json()) as UsageReport;
    if (report.rows.some((row) => row.model === model)) return report;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return report!;
}

describe("the model catalog through wrangler dev", () => {
  it("after a scheduled refresh, a model only the catalog publishes answers by its bare name through the OpenAI key, is listed with the catalog's source and age, and is priced from the catalog", async () => {
    const before = await callTool(client, "listmodels", {});
    expect(before.json?.content).toContain("- Model catalog: none refreshed yet");
    expect(before.json?.content).not.toContain(`\`${NEW_MODEL}\``);

    upstream.setCatalog({ models: PUBLISHED });
    await runScheduled();
    const catalog = await healthCatalog();
    expect(catalog.current).toMatchObject({ source: catalogUrl, models: PUBLISHED.length, age: expect.stringMatching(/^\d+ min$/) });
    expect(catalog.lastAttempt).toMatchObject({ ok: true, entries: PUBLISHED.length, skipped: 0 });

    upstream.clearRequests();
    const chat = await callTool(client, "chat", { prompt: "Which sorting algorithm is stable?", model: NEW_MODEL });
    expect(chat.isError, chat.text).toBe(false);
    expect(chat.json?.content).toContain(`fake:${NEW_MODEL}:`);
    expect(chat.json?.metadata).toMatchObject({ model_used: NEW_MODEL, provider_used: "openai" });
    expect(chat.json?.metadata?.model_note).toBeUndefined();
    const sent = upstream.requests();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ path: "/v1/chat/completions", model: NEW_MODEL, headers: { authorization: "Bearer sk-catalog-test" } });

    const listing = await callTool(client, "listmodels", {});
    expect(listing.json?.content).toContain(`\`${NEW_MODEL}\` (score`);
    expect(listing.json?.content).toContain("1M context");
    expect(listing.json?.content).toMatch(new RegExp(`- Model catalog: ${PUBLISHED.length} models from ${catalogUrl.replaceAll(".", "\\.")}, fetched ${catalog.current?.fetchedAt.replaceAll(".", "\\.")} \\(\\d+ min ago\\)`));
    expect(listing.json?.metadata).toMatchObject({ catalog_source: catalogUrl, catalog_fetched_at: catalog.current?.fetchedAt, catalog_age: expect.stringMatching(/^\d+ min$/) });

    const usage = await usageWith(NEW_MODEL);
    const { inputTokens, outputTokens } = chat.json?.metadata?.usage as { inputTokens: number; outputTokens: number };
    expect(inputTokens).toBeGreaterThan(0);
    const row = usage.rows.find((r) => r.model === NEW_MODEL);
    expect(row).toMatchObject({ provider: "openai", calls: 1, inputTokens, outputTokens });
    // $2 per million input tokens and $8 per million output tokens, from the catalog.
    expect(row?.estimatedCostUsd).toBeCloseTo((inputTokens * 2 + outputTokens * 8) / 1_000_000, 6);
    expect(usage.prices).toEqual({ kind: "catalog", source: catalogUrl, asOf: catalog.current?.fetchedAt.slice(0, 10) });
    const usageTool = await callTool(client, "usage", {});
    expect(usageTool.json?.content).toContain(`from the model catalog at ${catalogUrl}, as of ${catalog.current?.fetchedAt.slice(0, 10)}`);
    expect(usageTool.json?.metadata).toMatchObject({ price_source: catalogUrl, prices_as_of: catalog.current?.fetchedAt.slice(0, 10) });
  });

  it("passes a name in no catalog through to the only provider configured, with generic limits and a note in the metadata", async () => {
    const chat = await callTool(client, "chat", { prompt: "Say hello.", model: "house-tuned-model" });
    expect(chat.isError, chat.text).toBe(false);
    expect(chat.json?.content).toContain("fake:house-tuned-model:");
    expect(chat.json?.metadata?.provider_used).toBe("openai");
    expect(chat.json?.metadata?.model_note).toMatch(/'house-tuned-model' is in no model catalog here: it was sent to OpenAI as named, with generic limits/);
  });

  it("keeps the last good catalog through a malformed, huge, refused, reset and slow refresh, and shows each failure", async () => {
    const good = (await healthCatalog()).current;
    expect(good?.models).toBe(PUBLISHED.length);
    const failures = [
      [{ malformed: true }, /the body is not JSON/],
      [{ hugeBytes: 20 * 1024 * 1024 }, /over its 8388608-byte limit/],
      [{ status: 503 }, /answered HTTP 503/],
      [{ reset: true }, /could not be reached/],
      [{ hang: true }, /no complete answer within 20 s/],
    ] as const;
    for (const [answer, reason] of failures) {
      upstream.setCatalog(answer);
      await runScheduled();
      const catalog = await healthCatalog();
      expect(catalog.current, JSON.stringify(answer)).toEqual({ ...good, age: catalog.current?.age });
      expect(catalog.lastAttempt?.ok).toBe(false);
      expect(catalog.lastAttempt?.error).toMatch(reason);
      expect(catalog.lastAttempt?.error).toContain("The last good catalog is kept.");
    }
    // The catalog's model still answers, and the failure shows where the catalog does.
    const chat = await callTool(client, "chat", { prompt: "Still there?", model: NEW_MODEL });
    expect(chat.json?.metadata).toMatchObject({ model_used: NEW_MODEL, provider_used: "openai" });
    const listing = await callTool(client, "listmodels", {});
    expect(listing.json?.content).toMatch(/; the last refresh \(.*\) failed: .*no complete answer within 20 s/);
    expect(listing.json?.metadata?.catalog_refresh_error).toMatch(/no complete answer within 20 s/);
    const page = await (await fetch(`${worker.url}/`)).text();
    expect(page).toMatch(new RegExp(`id="model-catalog"[^>]*>Model catalog: ${PUBLISHED.length} models from ${catalogUrl.replaceAll(".", "\\.")}`));
    expect(page).toContain("no complete answer within 20 s");
  });
});
