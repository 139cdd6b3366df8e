import type { Context } from "hono";
import type { AppBindings } from "../../core/env";

/**
 * The address a request's connection came from, as the runtime reports it in CF-Connecting-IP:
 * Cloudflare sets it on every request (replacing one a client sent), and workerd under
 * `wrangler dev` sets it from the socket (127.0.0.1 for a connection from this machine, the
 * peer's address otherwise; it keeps one the client sent itself). Undefined when absent.
 */
export function clientAddress(c: Context<AppBindings>): string | undefined {
  return c.req.header("cf-connecting-ip")?.trim() || undefined;
}

const LOOPBACK_ADDRESS = /^(?:127(?:\.\d{1,3}){3}|::1|::ffff:127(?:\.\d{1,3}){3})$/i;

/** Headers a proxy adds when it relays a request: a relayed request did not start on this machine. */
const RELAY_HEADERS = ["x-forwarded-for", "forwarded", "x-real-ip"];

/**
 * Whether the request's connection itself comes from this machine: a loopback client address,
 * and no sign of a proxy on this machine relaying it from elsewhere.
 */
export function isLoopbackConnection(c: Context<AppBindings>): boolean {
  const address = clientAddress(c);
  return address !== undefined && LOOPBACK_ADDRESS.test(address) && RELAY_HEADERS.every((name) => c.req.header(name) === undefined);
}
