import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { z } from "zod";
import { ConfigError, configOf } from "./core/config";
import { listThreads } from "./conversation/threads";
import type { AppBindings } from "./core/env";
import { blobRoutes, workspaceOf, workspaceRoutes } from "./routes/blobs";
import { THREADS_PATH, WORKSPACE_HEADER, WORKSPACE_RULE } from "./core/wire-contract";
import { handleMcpRequest } from "./mcp/handler";
import { hostOriginGuard } from "./routes/middleware/host-origin";
import { rateLimit } from "./routes/middleware/rate-limit";
import { callerOf, refuseWhenLocked, teamAuth } from "./routes/middleware/team-auth";
import { oauthRoutes } from "./routes/oauth/routes";
import { loadCatalog, scheduledRefresh } from "./providers/model-catalog";
import { registryFor } from "./providers/registry";
import { healthDetails, healthOf } from "./routes/status/data";
import { statusRoutes } from "./routes/status/routes";
import { threadRoutes } from "./routes/threads";
import { valid, wholeNumber } from "./routes/validation";
import { DEFAULT_USAGE_DAYS, MAX_USAGE_DAYS, readUsage } from "./providers/usage";

export { BlobDO } from "./durable/blob";
export { ConversationDO } from "./durable/conversation";
export { ProviderBreakerDO } from "./durable/breaker";
export { RateLimiterDO } from "./durable/rate-limiter";
export { TeamDO } from "./durable/team";

const app = new Hono<AppBindings>();

app.use(requestId());

// The model catalog as the isolate knows it (KV at most once a minute), then the registry built on
// it. A configuration that cannot be parsed is the deployer's to fix: say which variable, on every route.
app.use(async (c, next) => {
  await loadCatalog(c.env);
  try {
    registryFor(c.env);
  } catch (error) {
    if (error instanceof ConfigError) return c.json({ error: "configuration", message: error.message }, 503);
    throw error;
  }
  await next();
});

app.use(hostOriginGuard());
app.use(refuseWhenLocked());

// Anyone may see that the server is up; what it runs with only a caller who may use it.
app.get("/health", async (c) => {
  const config = configOf(c.env);
  const registry = registryFor(c.env);
  return c.json((await callerOf(c)) ? healthDetails(config, registry) : healthOf(registry));
});

app.route("/", oauthRoutes);

// The status page (HTML): health and version for anyone, the team's view after signing in on it.
app.route("/", statusRoutes);

// OAuth access tokens are issued for /mcp only; the REST routes take team tokens.
app.use("/mcp", teamAuth({ acceptOAuth: true }), rateLimit());
app.use("/v1/*", teamAuth({ acceptOAuth: false }), rateLimit());

app.use("/mcp", (c, next) =>
  bodyLimit({
    maxSize: configOf(c.env).maxRequestBodyBytes,
    onError: (c) =>
      c.json(
        {
          error: "payload_too_large",
          message: `The request body exceeds ${configOf(c.env).maxRequestBodyBytes} bytes. Send large files through /v1/blobs and refer to them by path.`,
        },
        413,
      ),
  })(c, next),
);

app.post("/mcp", async (c) => {
  const config = configOf(c.env);
  // The bridge names its workspace so that paths resolve through that workspace's manifest.
  const workspace = workspaceOf(c.req.header(WORKSPACE_HEADER));
  if (workspace === undefined) {
    return c.json({ error: "bad_workspace", message: `${WORKSPACE_HEADER} must be ${WORKSPACE_RULE}.` }, 400);
  }
  return handleMcpRequest(c.req.raw, {
    env: c.env,
    config,
    registry: registryFor(c.env),
    team: c.get("team"),
    tokenDigest: c.get("tokenDigest"),
    workspace,
    requestId: c.get("requestId"),
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  });
});

// Stateless: no standalone server-to-client stream (GET) and no session to end (DELETE).
app.on(["GET", "DELETE"], "/mcp", (c) =>
  c.json({ error: "method_not_allowed", message: "This MCP server is stateless: send JSON-RPC with POST /mcp." }, 405, { allow: "POST" }),
);

app.route("/v1/blobs", blobRoutes);
app.route("/v1/workspaces", workspaceRoutes);

app.get(
  "/v1/threads",
  valid("query", z.object({ limit: wholeNumber(20, 1, 200) }), (c) =>
    c.json({ error: "bad_request", message: "limit must be a whole number from 1 to 200." }, 400),
  ),
  async (c) => {
    const { limit } = c.req.valid("query");
    return c.json({ team: c.get("team"), threads: await listThreads({ env: c.env, team: c.get("team") }, limit) });
  },
);

// Exchanges produced outside the server (the bridge's clink), stored in threads; a thread read back.
app.route(THREADS_PATH, threadRoutes);

app.get(
  "/v1/usage",
  valid("query", z.object({ days: wholeNumber(DEFAULT_USAGE_DAYS, 1, MAX_USAGE_DAYS) }), (c) =>
    c.json({ error: "bad_request", message: `days must be a whole number from 1 to ${MAX_USAGE_DAYS}.` }, 400),
  ),
  async (c) => c.json(await readUsage({ env: c.env, team: c.get("team") }, c.req.valid("query").days)),
);

app.notFound((c) => c.json({ error: "not_found", message: `No route for ${c.req.method} ${c.req.path}. The MCP endpoint is /mcp.` }, 404));

app.onError((error, c) => {
  if (error instanceof HTTPException) return error.getResponse();
  console.error(JSON.stringify({ requestId: c.get("requestId"), error: String(error), stack: error.stack }));
  return c.json({ error: "internal", message: `Unexpected server error (request id ${c.get("requestId")}).` }, 500);
});

export default {
  fetch: app.fetch,
  // The cron trigger (wrangler.toml): refresh the public model catalog.
  scheduled: (_controller, env) => scheduledRefresh(env),
} satisfies ExportedHandler<AppBindings["Bindings"]>;
