/**
 * An error whose message is written for the assistant: the MCP layer returns it verbatim as an
 * `isError` tool result. Anything else that escapes a tool is logged and reported by request id.
 */
export class UserFacingError extends Error {}

/** A tool refused the call: bad input, an unknown thread, a limit. */
export class ToolError extends UserFacingError {
  override name = "ToolError";
}
