/**
 * Debian's Chromium, headless, driven by playwright-core (never a browser download). Without
 * /usr/bin/chromium a browser test is skipped with a message, except in CI (CI=true), where
 * .ci/run installs it and its absence is a failure.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

const missing = !existsSync(CHROMIUM);

/** Whether a browser test file skips here; it says why once. */
export function skipWithoutChromium(what: string): boolean {
  const skip = missing && process.env.CI !== "true";
  if (skip) console.warn(`Skipping ${what}: no Chromium at ${CHROMIUM}. Install Debian's: apt-get install -y chromium (.ci/run does).`);
  return skip;
}

/** The flags these machines need: no sandbox as root, and none of Chromium's own network traffic. */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchChromium(): Promise<Browser> {
  if (missing) throw new Error(`CI=true and no Chromium at ${CHROMIUM}: .ci/run should have installed Debian's chromium package.`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}
