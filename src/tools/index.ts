import type { Config } from "../config";
import { apilookup } from "./apilookup";
import { challenge } from "./challenge";
import { chat } from "./chat";
import { codereview } from "./codereview";
import { debug } from "./debug";
import type { ToolCard } from "./define";
import { listmodels } from "./listmodels";
import { precommit } from "./precommit";
import { secaudit } from "./secaudit";
import { thinkdeep } from "./thinkdeep";
import { threads } from "./threads";
import { version } from "./version";

/** Every tool of the server, in the order tools/list shows them. */
export const ALL_TOOLS: readonly ToolCard[] = [
  chat,
  thinkdeep,
  debug,
  codereview,
  precommit,
  secaudit,
  challenge,
  apilookup,
  threads,
  listmodels,
  version,
] as ToolCard[];

/** Tools that DISABLED_TOOLS cannot remove: an assistant always needs to discover what is here. */
const ESSENTIAL = new Set(["listmodels", "version"]);

export function enabledTools(config: Config): ToolCard[] {
  return ALL_TOOLS.filter((tool) => ESSENTIAL.has(tool.name) || !config.disabledTools.has(tool.name));
}
