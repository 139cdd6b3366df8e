import type { Config } from "../core/config";
import { analyze } from "./analyze";
import { apilookup } from "./apilookup";
import { challenge } from "./challenge";
import { chat } from "./chat";
import { codereview } from "./codereview";
import { consensus } from "./consensus";
import { debug } from "./debug";
import type { ToolCard } from "./define";
import { docgen } from "./docgen";
import { listmodels } from "./listmodels";
import { planner } from "./planner";
import { precommit } from "./precommit";
import { refactor } from "./refactor";
import { secaudit } from "./secaudit";
import { testgen } from "./testgen";
import { thinkdeep } from "./thinkdeep";
import { threads } from "./threads";
import { tracer } from "./tracer";
import { usage } from "./usage";
import { version } from "./version";

/** Every tool of the server, in the order tools/list shows them. */
export const ALL_TOOLS: readonly ToolCard[] = [
  chat,
  thinkdeep,
  debug,
  codereview,
  precommit,
  secaudit,
  analyze,
  refactor,
  testgen,
  tracer,
  docgen,
  planner,
  consensus,
  challenge,
  apilookup,
  threads,
  usage,
  listmodels,
  version,
] as ToolCard[];

/** Tools that DISABLED_TOOLS cannot remove: an assistant always needs to discover what is here. */
const ESSENTIAL = new Set(["listmodels", "version"]);

const enabled = new WeakMap<Config, ToolCard[]>();

/** The tools a configuration serves, computed once per parsed configuration (the same list each time). */
export function enabledTools(config: Config): ToolCard[] {
  let tools = enabled.get(config);
  if (!tools) {
    tools = ALL_TOOLS.filter((tool) => ESSENTIAL.has(tool.name) || !config.disabledTools.has(tool.name));
    enabled.set(config, tools);
  }
  return tools;
}
