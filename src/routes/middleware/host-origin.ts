import type { Context, MiddlewareHandler } from "hono";
import { configOf } from "../../core/config";
import type { AppBindings } from "../../core/env";

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

export function isLoopback(hostname: string): boolean {
  return LOOPBACK.has(hostname.toLowerCase());
}

function isAllowedHostname(hostname: string, allowed: string[]): boolean {
  return isLoopback(hostname) || allowed.includes(hostname.toLowerCase());
}

/** The Host header of a request (its URL's host when a test builds one without the header). */
function hostOf(c: Context<AppBindings>): string {
  return c.req.header("host") ?? new URL(c.req.url).host;
}

/** The hostname of a Host header value, without its port (IPv6 literals keep their brackets). */
function hostnameOf(host: string): string {
  return host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : (host.split(":")[0] ?? "");
}

/** The hostname the request names, as the guard below judged it. */
export function requestHostname(c: Context<AppBindings>): string {
  return hostnameOf(hostOf(c));
}

/**
 * Protection against DNS rebinding: the Host header, and the Origin header when a browser sends
 * one, must name this server: loopback, or a hostname listed in ALLOWED_HOSTNAMES.
 */
export function hostOriginGuard(): MiddlewareHandler<AppBindings> {
  return async (c, next) => {
    const allowed = configOf(c.env).allowedHostnames;
    const host = hostOf(c);
    if (!isAllowedHostname(hostnameOf(host), allowed)) {
      return c.json(
        { error: "forbidden_host", message: `Host '${host}' is not served here. An admin can add it to ALLOWED_HOSTNAMES.` },
        403,
      );
    }
    const origin = c.req.header("origin");
    if (origin !== undefined && origin !== "null") {
      // WHATWG URL keeps the brackets of an IPv6 hostname, as the Host header does.
      const originHost = URL.canParse(origin) ? new URL(origin).hostname : "";
      if (!isAllowedHostname(originHost, allowed)) {
        return c.json(
          { error: "forbidden_origin", message: `Origin '${origin}' may not call this server. An admin can add its hostname to ALLOWED_HOSTNAMES.` },
          403,
        );
      }
    } else if (origin === "null") {
      return c.json({ error: "forbidden_origin", message: "Requests from an opaque ('null') origin are refused." }, 403);
    }
    await next();
  };
}
