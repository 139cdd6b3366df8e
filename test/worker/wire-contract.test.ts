import { describe, expect, it } from "vitest";
import { UPLOADED_FILE_FIELDS } from "../../src/files/wire-contract";
import { connectClient } from "./helpers";

describe("wire contract", () => {
  it("every tool argument that names files for the server to read is one the bridge uploads", async () => {
    const client = await connectClient();
    const { tools } = await client.listTools();
    await client.close();
    const fileArguments = tools.flatMap((tool) =>
      Object.keys(tool.inputSchema.properties ?? {})
        .filter((name) => /file|image|path/i.test(name))
        .map((name) => ({ tool: tool.name, name })),
    );
    expect(fileArguments.length).toBeGreaterThan(0);
    // Named like files but never read: what the assistant looked at, and chat's Zen-compatibility field.
    const notRead = new Set(["files_checked", "working_directory_absolute_path"]);
    for (const { tool, name } of fileArguments) {
      expect(UPLOADED_FILE_FIELDS.has(name) || notRead.has(name), `${tool}.${name} is not in UPLOADED_FILE_FIELDS`).toBe(true);
    }
  });
});
