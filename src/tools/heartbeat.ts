import type { GenerationProgress } from "../providers/types";
import type { ToolContext } from "./define";

/** Often enough that clients whose 60 s request timeout resets on progress never time out. */
const HEARTBEAT_MS = 5_000;

/**
 * Runs a model call while telling the client it is alive: one progress notification at once,
 * then one every few seconds with how much output has streamed so far.
 */
export async function withHeartbeat<T>(
  ctx: Pick<ToolContext, "progress">,
  label: string,
  call: (onProgress: (progress: GenerationProgress) => void) => Promise<T>,
): Promise<T> {
  const started = Date.now();
  let outputChars = 0;
  await ctx.progress(`${label}: request sent`);
  const timer = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1_000);
    const streamed = outputChars > 0 ? `, ${outputChars} characters received` : "";
    ctx.progress(`${label}: waiting (${seconds} s${streamed})`).catch(() => {
      // The client went away; the call's own signal ends the work.
    });
  }, HEARTBEAT_MS);
  try {
    return await call((progress) => {
      outputChars = progress.outputChars;
    });
  } finally {
    clearInterval(timer);
  }
}
