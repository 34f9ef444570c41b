// Build benchmark: cold build, no-op rebuild, rebuild after changing one component file,
// boot-to-ready, and image sizes, printed as a markdown table.
// Usage: node --import tsx bench/build.ts [target=guestos/dev] [scale=1/64]
// Uses its own cache and out dirs (the pinned base must exist: icos base update guestos).
import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../src/paths.ts";

const [target = "guestos/dev", scale = "1/64"] = process.argv.slice(2);
const work = mkdtempSync(join(tmpdir(), "icos-bench-"));
const defs = join(work, "ic-os");
cpSync(join(ROOT, "ic-os"), defs, { recursive: true });
const env = { ...process.env, ICOS_CACHE_DIR: join(work, "cache"), ICOS_OUT_DIR: join(work, "out"), ICOS_IC_OS_DIR: defs };

function icos(args: string[], json = true): { seconds: number; json: Record<string, unknown> } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args, ...(json ? ["--json"] : [])], { env, encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`icos ${args.join(" ")} failed:\n${r.stderr}`);
  return { seconds: (Date.now() - t0) / 1000, json: json ? (JSON.parse(r.stdout) as Record<string, unknown>) : {} };
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
const rows: [string, string][] = [];
try {
  const build = ["build", target, "--scale", scale];
  const cold = icos(build);
  rows.push(["cold build (empty cache, pinned base)", `${cold.seconds.toFixed(1)} s`]);
  rows.push(["no-op rebuild", `${icos(build).seconds.toFixed(1)} s`]);
  appendFileSync(join(defs, "components/base-config/etc/fstab"), "# bench\n");
  rows.push(["rebuild after changing one component file", `${icos(build).seconds.toFixed(1)} s`]);
  const outDir = String(cold.json.outDir);
  const media = join(work, "config.img");
  icos(["config", "guestos", "--config", join(ROOT, "examples/qemu-node.json"), "--out", media], false);
  const run = icos(["run", join(outDir, "disk.img"), "--config-media", media, "--wait-ready", "--timeout", "600"]);
  rows.push(["boot to ready (icos run --wait-ready)", `${Number(run.json.seconds).toFixed(1)} s (${String(run.json.accel)})`]);
  const disk = statSync(join(outDir, "disk.img"));
  rows.push(["disk.img apparent size", mib(disk.size)]);
  rows.push(["disk.img allocated", mib(disk.blocks * 512)]);
  for (const a of ["disk-img.tar.zst", "update-img.tar.zst"]) rows.push([a, mib(statSync(join(outDir, a)).size)]);
  console.log(`| ${target} (scale ${scale}) | |\n|---|---|\n` + rows.map(([k, v]) => `| ${k} | ${v} |`).join("\n"));
} finally {
  rmSync(work, { recursive: true, force: true });
}
