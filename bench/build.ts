// Build benchmark (issue 11's targets): in one run, at the real IC-OS sizes unless told otherwise,
//   cold build from the pinned base, no-op rebuild, one component file changed, the same build with
//   every partition 10x larger (sparse), a hand-run reference for the same image (mke2fs -d of the
//   same tree, sgdisk, dd conv=sparse), and boot to ready; printed as one markdown table.
// Usage: node --import tsx bench/build.ts [target=guestos/dev] [--scale 1/64] [--no-boot]
// Runs icos as a user does (bin/icos.js, after `npm run build`), with its own stage store and out
// dirs; the pinned base must exist (icos base update <os>). Nothing else may build or boot meanwhile.
import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../src/paths.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const target = args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--scale") ?? "guestos/dev";
const scale = value("--scale") ?? "1";
const [osName] = target.split("/") as [string];

const work = mkdtempSync(join(tmpdir(), "icos-bench-"));
const defs = join(work, "ic-os");
cpSync(join(ROOT, "ic-os"), defs, { recursive: true });
const env = { ...process.env, ICOS_CACHE_DIR: join(work, "cache"), ICOS_OUT_DIR: join(work, "out"), ICOS_IC_OS_DIR: defs };

function sh(cmd: string, argv: string[], opts: { env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, argv, { env: opts.env ?? process.env, encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

interface Stage {
  stage: string;
  cache: string;
  seconds: number;
}

/** Run bin/icos.js with --json; wall-clock seconds and its JSON. */
function icos(argv: string[], extraEnv: Record<string, string> = {}, json = true): { seconds: number; json: Record<string, unknown> } {
  const t0 = process.hrtime.bigint();
  const out = sh(process.execPath, [join(ROOT, "bin/icos.js"), ...argv, ...(json ? ["--json"] : [])], { env: { ...env, ...extraEnv } });
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, json: json ? (JSON.parse(out) as Record<string, unknown>) : {} };
}

function timed(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const s = (n: number) => `${n.toFixed(1)} s`;
const stagesOf = (json: Record<string, unknown>) => (json.stages as Stage[]).map((x) => `${x.stage} ${x.seconds.toFixed(1)}${x.cache === "hit" ? " (cached)" : ""}`).join(", ");
const builtSeconds = (json: Record<string, unknown>) => (json.stages as Stage[]).filter((x) => x.cache === "miss").reduce((a, x) => a + x.seconds, 0);

/** The hand-run pipeline for the image icos built: the same tree, the same partition table, the same sizes. */
function handRun(manifest: { partitions: { index: number; name: string; startLba: number; sizeLba: number; type: string }[]; inputs: { image: string } }, diskBytes: number): number {
  const dir = join(work, "reference");
  mkdirSync(dir, { recursive: true });
  const part = (name: string) => manifest.partitions.find((p) => p.name === name)!;
  const tree = sh("podman", ["image", "mount", manifest.inputs.image]).trim();
  try {
    return timed(() => {
      for (const [name, src] of [["A_root", tree], ["A_boot", join(tree, "boot")]] as const) {
        const img = join(dir, `${name}.img`);
        rmSync(img, { force: true });
        sh("truncate", ["-s", String(part(name).sizeLba * 512), img]);
        sh("mke2fs", ["-q", "-t", "ext4", "-d", src, img]);
      }
      const disk = join(dir, "disk.img");
      rmSync(disk, { force: true });
      sh("truncate", ["-s", String(diskBytes), disk]);
      const gpt = manifest.partitions.flatMap((p) => ["-n", `${p.index}:${p.startLba}:${p.startLba + p.sizeLba - 1}`, "-t", `${p.index}:${p.type}`, "-c", `${p.index}:${p.name}`]);
      sh("sgdisk", ["-q", ...gpt, disk]);
      for (const name of ["A_boot", "A_root"]) {
        sh("dd", [`if=${join(dir, `${name}.img`)}`, `of=${disk}`, "bs=1M", `seek=${(part(name).startLba * 512) / 2 ** 20}`, "conv=sparse,notrunc", "status=none"]);
      }
      sh("sync", [disk]);
    });
  } finally {
    sh("podman", ["image", "unmount", manifest.inputs.image]);
  }
}

/** The OS's layout with every partition size multiplied by 10 (for the apparent-size row). */
function layoutTimesTen(): void {
  const file = join(defs, osName, "layout.yaml");
  const text = readFileSync(file, "utf8").replace(/^(\s+size:\s*)(\d+)([KMGT])\b/gm, (_m, pre: string, n: string, unit: string) => `${pre}${Number(n) * 10}${unit}`);
  writeFileSync(file, text);
}

const rows: [string, string, string, string][] = [];
try {
  sh("npm", ["run", "--silent", "build"], { env: { ...process.env } });
  const build = ["build", target, "--scale", scale];

  const cold = icos(build);
  rows.push(["cold build (pinned base, empty stage store)", s(cold.seconds), "", stagesOf(cold.json)]);
  rows.push(["no-op rebuild", s(icos(build).seconds), "", ""]);

  appendFileSync(join(defs, "components/base-config/etc/fstab"), "# bench\n");
  const change = icos(build);
  const manifest = change.json.manifest as Parameters<typeof handRun>[0];
  const outDir = String(change.json.outDir);
  const disk = statSync(join(outDir, "disk.img"));
  const reference = handRun(manifest, disk.size);
  rows.push(["one component file changed -> disk.img", s(change.seconds), s(reference), `${(change.seconds / reference).toFixed(2)}x the hand-run pipeline; ${stagesOf(change.json)}`]);

  layoutTimesTen();
  const big = icos(build, { ICOS_OUT_DIR: join(work, "out-10x") });
  const bigDisk = statSync(join(String(big.json.outDir), "disk.img"));
  const bigRef = handRun(big.json.manifest as Parameters<typeof handRun>[0], bigDisk.size);
  rows.push([
    `every partition 10x (disk ${(bigDisk.size / 1e9).toFixed(0)} GB apparent)`,
    `${s(builtSeconds(big.json))} in stages`,
    s(bigRef),
    `vs ${s(builtSeconds(cold.json) - ((cold.json.stages as Stage[]).find((x) => x.stage === "image")?.seconds ?? 0))} for the same stages at 1x; ${stagesOf(big.json)}`,
  ]);

  if (!flag("--no-boot")) {
    const media = join(work, "config.img");
    icos(["config", osName, "--config", join(ROOT, "examples/qemu-node.json"), "--out", media], {}, false);
    const r = icos(["run", join(outDir, "disk.img"), "--config-media", media, "--wait-ready", "--timeout", "600"]);
    rows.push(["boot to ready (icos run --wait-ready)", `${Number(r.json.seconds).toFixed(1)} s`, "", String(r.json.accel)]);
  }
  rows.push(["disk.img", `${(disk.size / 1e9).toFixed(1)} GB apparent`, "", `${(disk.blocks / 2048).toFixed(0)} MiB allocated`]);

  const cpu = readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown CPU";
  console.log(`${target}, scale ${scale}, ${cpu}, ${sh("nproc", []).trim()} cores\n`);
  console.log("| step | icos | hand-run reference | notes |\n|---|---|---|---|\n" + rows.map((r) => `| ${r.join(" | ")} |`).join("\n"));
} finally {
  rmSync(work, { recursive: true, force: true });
}
