import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
export const PROJECT_CONFIG = resolve(ROOT, "wrangler.toml");
export const BASELINE_CONFIG = resolve(ROOT, "bench/baseline/wrangler.toml");
export const HARNESS_CONFIG = resolve(ROOT, "bench/harness/wrangler.toml");
