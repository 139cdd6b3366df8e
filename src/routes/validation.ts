/**
 * Route input checked by zod schemas, each refusal answered the way every route answers:
 * `{error, message}` with its status. Handlers read what passed with `c.req.valid(target)`.
 */
import type { Context, MiddlewareHandler } from "hono";
import { validator } from "hono/validator";
import { z } from "zod";
import type { AppBindings } from "../core/env";

type AppContext = Context<AppBindings>;
type Refusal = (c: AppContext) => Response | Promise<Response>;

/** Path parameters or query string checked by `schema` (hono's validator), else `refuse`. */
export function valid<Target extends "param" | "query", Schema extends z.ZodType>(target: Target, schema: Schema, refuse: Refusal) {
  return validator(target, async (value, c: AppContext) => {
    const parsed = schema.safeParse(value);
    return parsed.success ? (parsed.data as z.output<Schema>) : refuse(c);
  });
}

/**
 * A JSON body checked by `schema`, else `refuse`; `absent` stands for a body that is missing or
 * not JSON. Hono's own json validator is not used here: it reads only a JSON media type and
 * answers malformed JSON with a plain-text 400, while these routes take JSON whatever its
 * declared type (curl's default) and refuse it like every other input.
 */
export function jsonBody<Schema extends z.ZodType>(
  schema: Schema,
  refuse: Refusal,
  absent?: unknown,
): MiddlewareHandler<AppBindings, string, { in: { json: z.input<Schema> }; out: { json: z.output<Schema> } }> {
  return async (c, next) => {
    const parsed = schema.safeParse(await c.req.json().catch(() => absent));
    if (!parsed.success) return refuse(c);
    c.req.addValidatedData("json", parsed.data as {});
    await next();
  };
}

/**
 * A query parameter holding a whole number from `min` to `max`, `fallback` when absent. Of a
 * repeated parameter the first counts, as `c.req.query(name)` reads it.
 */
export function wholeNumber(fallback: number, min: number, max: number) {
  return z.preprocess(
    (value) => Number((Array.isArray(value) ? value[0] : value) ?? fallback),
    z.number().refine((n) => Number.isInteger(n) && n >= min && n <= max),
  );
}
