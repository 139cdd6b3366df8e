import { describe, expect, it } from "vitest";
import { UPLOADED_FILE_FIELDS } from "../../src/core/wire-contract.ts";
import { connectClient } from "./helpers";

describe("wire contract", () => {
  it("every tool argument that names files for the server to read is one the bridge uploads", async () => {
    const client = await connectClient();
    const { tools } = await client.listTools();
    await client.close();
    const fileArguments = tools.flatMap((tool) =>
      Object.entries((tool.inputSchema.properties ?? {}) as Record<string, { type?: unknown }>)
        .filter(([name, schema]) => /file|image|path/i.test(name) && schema.type === "array")
        .map(([name]) => ({ tool: tool.name, name })),
    );
    expect(fileArguments.length).toBeGreaterThan(0);
    // Lists of files the server never reads: what the assistant looked at.
    const notRead = new Set(["files_checked"]);
    for (const { tool, name } of fileArguments) {
      expect(UPLOADED_FILE_FIELDS.has(name) || notRead.has(name), `${tool}.${name} is not in UPLOADED_FILE_FIELDS`).toBe(true);
    }
  });
});
