/**
 * What a deploy would upload: `wrangler deploy --dry-run --outdir --metafile` (offline), the
 * uploaded modules gzipped here with node:zlib (level 9), and the bytes each dependency
 * contributes (esbuild metafile, bytes in the output before compression).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { deferCleanup } from "./cleanup.ts";
import { ROOT } from "./paths.ts";

export interface Bundle {
  rawBytes: number;
  gzipBytes: number;
  modules: string[];
  byPackage: Array<{ name: string; bytes: number; share: number }>;
  /** wrangler's own "Total Upload: … / gzip: …" line, for comparison. */
  wranglerSays?: string;
}

interface Metafile {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

/** A package name from a bundled input's path; the project's own code by top-level folder. */
function packageOf(path: string): string {
  const at = path.lastIndexOf("node_modules/");
  if (at >= 0) {
    const parts = path.slice(at + "node_modules/".length).split("/");
    return parts[0]?.startsWith("@") ? `${parts[0]}/${parts[1]}` : (parts[0] ?? path);
  }
  const src = /(?:^|\/)(src|bench)\/([^/]+)(\/)?/.exec(path);
  if (src) return `(project) ${src[1]}/${src[2]}${src[3] ? "/" : ""}`;
  return `(other) ${path.replace(/^(\.\.\/)+/, "")}`;
}

export function bundle(config: string, log: (message: string) => void): Bundle {
  const outdir = mkdtempSync(join(tmpdir(), "zen-bench-bundle-"));
  const dispose = deferCleanup(() => rmSync(outdir, { recursive: true, force: true }));
  try {
    const metafile = join(outdir, "meta.json");
    const run = spawnSync(
      process.execPath,
      [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--config", config, "--outdir", join(outdir, "out"), "--metafile", metafile],
      { cwd: ROOT, encoding: "utf8", timeout: 120_000, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" } },
    );
    if (run.status !== 0) throw new Error(`wrangler deploy --dry-run failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
    const modules = readdirSync(join(outdir, "out")).filter((name) => /\.(m?js|cjs|wasm|json|txt|bin)$/.test(name) && !name.endsWith(".map"));
    let rawBytes = 0;
    let gzipBytes = 0;
    for (const name of modules) {
      const content = readFileSync(join(outdir, "out", name));
      rawBytes += content.length;
      gzipBytes += gzipSync(content, { level: 9 }).length;
    }
    const meta = JSON.parse(readFileSync(metafile, "utf8")) as Metafile;
    const totals = new Map<string, number>();
    for (const [output, { inputs }] of Object.entries(meta.outputs)) {
      if (output.endsWith(".map")) continue;
      for (const [input, { bytesInOutput }] of Object.entries(inputs)) {
        const name = packageOf(input);
        totals.set(name, (totals.get(name) ?? 0) + bytesInOutput);
      }
    }
    const inputBytes = [...totals.values()].reduce((a, b) => a + b, 0) || 1;
    const byPackage = [...totals]
      .sort((a, b) => b[1] - a[1])
      .map(([name, bytes]) => ({ name, bytes, share: bytes / inputBytes }));
    const wranglerSays = /Total Upload: [^\n]+/.exec(run.stdout)?.[0];
    log(`${relative(ROOT, config)}: ${modules.join(", ")}: ${(rawBytes / 1024).toFixed(0)} KiB, gzip ${(gzipBytes / 1024).toFixed(0)} KiB (${wranglerSays ?? "?"})`);
    return { rawBytes, gzipBytes, modules, byPackage, ...(wranglerSays ? { wranglerSays } : {}) };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
    dispose();
  }
}
