// The README's configuration table is the operator's reference: it names every variable a
// provider's descriptor reads.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PROVIDERS } from "../../src/providers/catalog";

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const configuration = README.slice(README.indexOf("## Configuration"), README.indexOf("## Authentication"));

describe("README, Configuration", () => {
  it.each(PROVIDERS.map((p) => [p.id, p] as const))("names every variable of %s", (_, descriptor) => {
    const variables = [
      ...descriptor.requiredVariables,
      ...(/^[A-Z_]+$/.test(descriptor.keyVariable) ? [descriptor.keyVariable] : []),
      ...(descriptor.baseUrl ? [descriptor.baseUrl.variable] : []),
      ...descriptor.allowListVariables,
    ];
    for (const variable of variables) expect(configuration, variable).toContain(`\`${variable}\``);
  });
});
