#!/usr/bin/env node
// zen-mcp-worker command line (bridge, push): runs src/bridge/cli.ts directly, TypeScript
// included, because Node >= 22.12 can strip types itself (by default from 22.18; before that
// with --experimental-strip-types, which this shim adds by re-running itself).
//
// Node refuses to strip types for files under node_modules, so this works from a clone of the
// repository (the package is private and not published): `npx zen-mcp-worker bridge --url ...`
// inside the clone, or `node /path/to/clone/bin/zen-mcp-worker.js bridge --url ...` from anywhere.
// Plain JavaScript on purpose: it must run, and explain itself, on any Node version.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `zen-mcp-worker needs Node.js 22.12 or newer (this is ${process.version}): it runs its TypeScript sources directly.\n` +
      "Install a current Node.js (https://nodejs.org) and run it again.\n",
  );
  process.exit(1);
}

if (!process.features.typescript) {
  if (process.env.ZEN_MCP_WORKER_STRIP_TYPES === "1") {
    process.stderr.write("zen-mcp-worker: this Node.js cannot strip TypeScript types even with --experimental-strip-types.\n");
    process.exit(1);
  }
  // Node 22.12-22.17: type stripping exists behind a flag. stdio is inherited, so the child
  // speaks MCP on the same stdin/stdout as if it were this process.
  const child = spawn(
    process.execPath,
    ["--experimental-strip-types", "--disable-warning=ExperimentalWarning", fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: "inherit", env: { ...process.env, ZEN_MCP_WORKER_STRIP_TYPES: "1" } },
  );
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  let cli;
  try {
    cli = await import("../src/bridge/cli.ts");
  } catch (error) {
    if (error?.code === "ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING") {
      process.stderr.write(
        "zen-mcp-worker: Node.js does not run TypeScript from node_modules. Run it from a clone of the repository:\n" +
          "  git clone <zen-mcp-worker repository> && node zen-mcp-worker/bin/zen-mcp-worker.js bridge --url ...\n",
      );
      process.exit(1);
    }
    throw error;
  }
  process.exitCode = await cli.main(process.argv.slice(2));
}
