// A build: from a target (guestos/dev) to out/<os>/<variant>/, stage by stage. Each stage is
// cached in the store by the digest of its inputs; out/ is replaced atomically at the end.
import { createReadStream } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { pipeline as streamPipeline } from "node:stream/promises";
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

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  await streamPipeline(createReadStream(path, { highWaterMark: 1 << 22 }), h);
  return h.digest("hex");
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

    // out/ is assembled beside its final place and swapped in whole.
    const out = opts.outDir ?? outDirOf(target);
    const tmp = `${out}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    try {
      progress.note(`writing ${out}`);
      await run("cp", ["--sparse=always", disk.diskImg, join(tmp, "disk.img")], { context: "copy disk.img" });
      for (const a of ARTIFACTS) await run("cp", [join(artifacts, a), join(tmp, a)], { context: `copy ${a}` });
      const files = ["disk.img", ...ARTIFACTS];
      const sums: Record<string, string> = {};
      for (const f of files) sums[f] = await sha256File(join(tmp, f));
      const partitionSums: Record<string, string> = {};
      for (const [index, src] of Object.entries(disk.sources)) partitionSums[layout.partitions[Number(index) - 1]!.name] = await sha256File(src);
      const manifest = {
        target: target.id,
        version: opts.version,
        scale: opts.scale,
        fillB: opts.fillB,
        inputs: { baseImage: image.baseImage, image: image.imageId, context: image.contextDigest },
        stages: Object.fromEntries(progress.stages.map((s) => [s.stage, s.digest])),
        tools: await toolVersions(["podman", "runc", "tar", "mke2fs", "debugfs", "mkfs.vfat", "mcopy", "grub-mkimage", "zstd"]),
        partitions: readGpt(join(tmp, "disk.img")).disk.partitions.map((p) => ({
          index: p.index, name: p.name, type: p.typeGuid, guid: p.partGuid, startLba: p.firstLba, sizeLba: p.lastLba - p.firstLba + 1,
          sha256: partitionSums[p.name] ?? "empty",
        })),
        sha256: sums,
      };
      await writeFile(join(tmp, "SHA256SUMS"), files.map((f) => `${sums[f]}  ${f}\n`).join(""));
      await writeFile(join(tmp, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
      await mkdir(dirname(out), { recursive: true });
      const old = `${out}.old-${process.pid}`;
      await rename(out, old).catch(() => undefined);
      await rename(tmp, out);
      await rm(old, { recursive: true, force: true });
      progress.note(`done: ${out}`);
      return { outDir: out, manifest, stages: progress.stages };
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  } finally {
    release();
  }
}
