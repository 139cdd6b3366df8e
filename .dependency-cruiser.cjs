/**
 * The layering of ../shared/DESIGN.md, checked in CI: arrows go one way,
 * routes -> mcp -> tools -> {conversation, providers, files} -> durable -> core,
 * with no cycle (type imports included), and the bridge (a Node command) taking only the wire
 * contract from the worker's side. `npm run deps` runs it.
 */
const LAYERS = ["routes", "mcp", "tools", "conversation|providers|files", "durable|kv-cache", "core"];

/** Everything a layer may not import: the layers above it. */
const upward = LAYERS.slice(1).map((layer, index) => ({
  name: `no-upward-from-${layer.split("|")[0]}`,
  comment: `${layer} sits below ${LAYERS.slice(0, index + 1).join(", ")}: it may not import them.`,
  severity: "error",
  from: { path: `^src/(${layer})/` },
  to: { path: `^src/(${LAYERS.slice(0, index + 1).join("|")})/` },
}));

module.exports = {
  forbidden: [
    { name: "no-cycle", comment: "No import cycle, type imports included.", severity: "error", from: {}, to: { circular: true } },
    ...upward,
    {
      name: "bridge-takes-only-the-wire-contract",
      comment: "The bridge runs on Node, apart from the worker: from src/ it imports only the wire contract.",
      severity: "error",
      from: { path: "^src/bridge/" },
      to: { path: "^src/", pathNot: ["^src/bridge/", "^src/core/wire-contract\\.ts$"] },
    },
    {
      name: "only-routes-know-hono",
      comment: "The HTTP edge is routes/ (and the worker's entry); nothing below it imports Hono.",
      severity: "error",
      from: { path: "^src/", pathNot: ["^src/routes/", "^src/worker\\.ts$"] },
      to: { path: "^node_modules/hono/" },
    },
    {
      name: "every-file-in-a-layer",
      comment: "Every source file belongs to a layer of DESIGN.md (or is the worker's entry or the bridge).",
      severity: "error",
      from: { path: "^src/", pathNot: ["^src/(routes|mcp|tools|conversation|providers|files|durable|kv-cache|core|bridge)/", "^src/worker\\.ts$"] },
      to: {},
    },
  ],
  options: {
    parser: "swc",
    tsPreCompilationDeps: true,
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^src/.*\\.json$" },
  },
};
