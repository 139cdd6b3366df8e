/**
 * A headless Chromium driven by playwright-core (never a browser download): Debian's when it is
 * installed, else the one the `@sparticuz/chromium` package ships inside itself (unpacked from the
 * package to a temp dir on first launch), so the browser tests run on a machine with no browser.
 */
import { existsSync } from "node:fs";
import packagedChromium from "@sparticuz/chromium";
import { chromium, type Browser } from "playwright-core";

const SYSTEM_CHROMIUM = "/usr/bin/chromium";

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

/** Which Chromium the tests drive, for their messages. */
export async function chromiumPath(): Promise<string> {
  return existsSync(SYSTEM_CHROMIUM) ? SYSTEM_CHROMIUM : packagedChromium.executablePath();
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: await chromiumPath(), headless: true, args: CHROMIUM_ARGS });
}
