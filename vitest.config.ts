import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Two projects: "worker" runs inside workerd against the real bindings of wrangler.toml;
// "e2e" runs on Node and drives a real `wrangler dev` and the fake upstream over loopback.
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" } })],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          // Runs per fuzz property (test/worker/fuzz.test.ts): a few hundred by default, FUZZ_RUNS=10000 for the full run.
          provide: { fuzzRuns: Number(process.env["FUZZ_RUNS"] ?? 300) },
          // The first test of a file pays for a cold module graph inside workerd.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Each e2e file starts its own wrangler dev; two at once is all 2 cores take.
          maxWorkers: 2,
        },
      },
    ],
  },
});
