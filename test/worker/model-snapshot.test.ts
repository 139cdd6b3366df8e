import { describe, expect, it } from "vitest";
import anthropic from "../../src/providers/models/anthropic.json";
import dial from "../../src/providers/models/dial.json";
import gemini from "../../src/providers/models/gemini.json";
import openai from "../../src/providers/models/openai.json";
import openrouter from "../../src/providers/models/openrouter.json";
import workersAi from "../../src/providers/models/workers-ai.json";
import xai from "../../src/providers/models/xai.json";

/** A models file as far as the snapshot rules read it. */
interface SnapshotFile {
  as_of?: string;
  models: ReadonlyArray<{
    model_name: string;
    aliases?: readonly string[];
    source?: string;
    input_price_per_mtok?: number;
    output_price_per_mtok?: number;
  }>;
}

/** The first-party providers' files: re-checked against the providers' own pages on their `as_of` date. */
const CHECKED: Record<string, SnapshotFile> = { openai, gemini, xai, anthropic, "workers-ai": workersAi };
/** The gateways' files: their entries carry the page or file they were taken from, but no `as_of`. */
const GATEWAYS: Record<string, SnapshotFile> = { openrouter, dial };

/** Every way the snapshot breaks its rules, as readable lines; none when it holds. */
function snapshotProblems(checked: Record<string, SnapshotFile>, gateways: Record<string, SnapshotFile>, today: Date): string[] {
  const problems: string[] = [];
  for (const [file, data] of Object.entries(checked)) {
    const asOf = data.as_of ?? "";
    const date = new Date(`${asOf}T00:00:00Z`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(asOf) || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== asOf) {
      problems.push(`${file}: as_of ${JSON.stringify(data.as_of)} is not a date (YYYY-MM-DD)`);
    } else if (date.getTime() > today.getTime()) {
      problems.push(`${file}: as_of ${asOf} is in the future`);
    }
  }
  for (const [file, data] of Object.entries({ ...checked, ...gateways })) {
    const names = new Set<string>();
    for (const entry of data.models) {
      const where = `${file}: ${entry.model_name}`;
      if (!entry.source) problems.push(`${where} has no source`);
      else if (!URL.canParse(entry.source) || new URL(entry.source).protocol !== "https:") problems.push(`${where}: source ${entry.source} is not an https URL`);
      if ((entry.input_price_per_mtok === undefined) !== (entry.output_price_per_mtok === undefined)) problems.push(`${where} has one price without the other`);
      for (const name of new Set([entry.model_name, ...(entry.aliases ?? [])].map((n) => n.toLowerCase()))) {
        if (names.has(name)) problems.push(`${file}: ${name} names two models`);
        names.add(name);
      }
    }
  }
  // A name reaches one first-party provider: the gateways repeat the native aliases on purpose and lose to them.
  const owner = new Map<string, string>();
  for (const [file, data] of Object.entries(checked)) {
    for (const entry of data.models) {
      for (const alias of entry.aliases ?? []) {
        const other = owner.get(alias.toLowerCase());
        if (other && other !== file) problems.push(`alias ${alias} is in both ${other} and ${file}`);
        owner.set(alias.toLowerCase(), file);
      }
    }
  }
  return problems;
}

describe("the shipped model snapshot", () => {
  it("holds: dated, every entry sourced, prices in pairs, names unique", () => {
    expect(snapshotProblems(CHECKED, GATEWAYS, new Date())).toEqual([]);
  });

  it("is caught when an entry loses its source, a date is wrong, a price is alone or an alias is shared", () => {
    const [first, ...rest] = openai.models;
    const broken: Record<string, SnapshotFile> = {
      ...CHECKED,
      openai: { as_of: "2026-02-30", models: [{ ...first!, source: undefined }, ...rest] },
      xai: { ...xai, as_of: "2999-01-01" },
      gemini: { ...gemini, models: [...gemini.models, { model_name: "lonely-price", aliases: ["gpt5"], input_price_per_mtok: 1, source: "http://example.com/" }] },
    };
    expect(snapshotProblems(broken, GATEWAYS, new Date())).toEqual([
      'openai: as_of "2026-02-30" is not a date (YYYY-MM-DD)',
      "xai: as_of 2999-01-01 is in the future",
      `openai: ${first!.model_name} has no source`,
      "gemini: lonely-price: source http://example.com/ is not an https URL",
      "gemini: lonely-price has one price without the other",
      "alias gpt5 is in both openai and gemini",
    ]);
  });
});
