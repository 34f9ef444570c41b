// A build: from a target (guestos/dev) to out/<os>/<variant>/, stage by stage. Each stage is
// cached in the store by the digest of its inputs; out/ is replaced atomically at the end.
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { run } from "../exec.ts";
import { toolVersions } from "../host/doctor.ts";
import { readGpt } from "../image/disk.ts";
import { loadLayout, resolveLayout } from "../model/layout.ts";
import type { Target } from "../model/target.ts";
import { OUT_DIR } from "../paths.ts";
import { openStore } from "./cache.ts";
import { Progress, type StageReport } from "./progress.ts";
import { ARTIFACTS, buildArtifacts } from "./stages/artifacts.ts";
import { buildBootloader } from "./stages/bootloader.ts";
import { buildDisk } from "./stages/disk.ts";
import { buildImage } from "./stages/image.ts";
import { buildRootfs } from "./stages/rootfs.ts";

export interface BuildOptions {
  /** Scale the layout's sizes down (tests use 1/64); 1 = the real IC-OS sizes. */
  scale: number;
  fillB: boolean;
  version: string;
  quiet: boolean;
  outDir?: string;
  /** Another stage store than the default (icos verify builds with empty ones). */
  cacheDir?: string;
}

export interface BuildResult {
  outDir: string;
  manifest: Record<string, unknown>;
  stages: StageReport[];
}

export function outDirOf(target: Target): string {
  return join(OUT_DIR, target.os.name, target.variant);
}


export async function build(target: Target, opts: BuildOptions): Promise<BuildResult> {
  const progress = new Progress(opts.quiet);
  const layout = resolveLayout(loadLayout(join(target.os.dir, target.os.layout)), { scale: opts.scale });
  const { store, release } = openStore(opts.cacheDir);
  try {
    const image = await buildImage(store, target, progress);
    const rootfs = await buildRootfs(store, target, layout, image.imageId, opts.version, progress);
    const boot = await buildBootloader(store, target.os, layout, progress);
    const disk = await buildDisk(store, `${target.id} disk (${opts.fillB ? "A+B" : "A"})`, layout, boot, rootfs, { fillB: opts.fillB }, progress);
    const artifacts = await buildArtifacts(store, `${target.id} archives`, disk, rootfs, { version: opts.version, sourceDateEpoch: target.os.sourceDateEpoch }, progress);

    // Hashes come from the stages that made the files (kept in the cache), not from re-reading them.
    const sums: Record<string, string> = { "disk.img": disk.diskSha256, ...artifacts.sha256 };
    const manifest = {
      target: target.id,
      version: opts.version,
      scale: opts.scale,
      fillB: opts.fillB,
      inputs: { baseImage: image.baseImage, image: image.imageId, context: image.contextDigest },
      stages: Object.fromEntries(progress.stages.map((s) => [s.stage, s.digest])),
      tools: await toolVersions(["podman", "runc", "tar", "mke2fs", "debugfs", "mkfs.vfat", "mcopy", "grub-mkimage", "zstd"]),
      partitions: readGpt(disk.diskImg).disk.partitions.map((p) => ({
        index: p.index, name: p.name, type: p.typeGuid, guid: p.partGuid, startLba: p.firstLba, sizeLba: p.lastLba - p.firstLba + 1,
        sha256: disk.partitionSha256[p.index] ?? "empty",
      })),
      sha256: sums,
    };
    const out = opts.outDir ?? outDirOf(target);
    const text = JSON.stringify(manifest, null, 2) + "\n";
    if ((await readFile(join(out, "manifest.json"), "utf8").catch(() => "")) === text) {
      progress.note(`up to date: ${out}`);
    } else {
      progress.note(`writing ${out}`);
      await writeOut(out, { "disk.img": disk.diskImg, ...Object.fromEntries(ARTIFACTS.map((a) => [a, join(artifacts.dir, a)])) }, sums, text);
      progress.note(`done: ${out}`);
    }
    return { outDir: out, manifest, stages: progress.stages };
  } finally {
    release();
  }
}

/** Fill out/<os>/<variant>/ beside its final place, then swap it in whole. */
async function writeOut(out: string, files: Record<string, string>, sums: Record<string, string>, manifest: string): Promise<void> {
  const tmp = `${out}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    for (const [name, src] of Object.entries(files)) await run("cp", ["--sparse=always", src, join(tmp, name)], { context: `copy ${name}` });
    await writeFile(join(tmp, "SHA256SUMS"), Object.keys(files).map((f) => `${sums[f]}  ${f}\n`).join(""));
    await writeFile(join(tmp, "manifest.json"), manifest);
    await mkdir(dirname(out), { recursive: true });
    const old = `${out}.old-${process.pid}`;
    await rename(out, old).catch(() => undefined);
    await rename(tmp, out);
    await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
