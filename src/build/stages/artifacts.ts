// Stage 6: the compressed artifacts of a build: disk-img.tar.zst (the sparse disk) and
// update-img.tar.zst (boot.img, root.img, VERSION.TXT), cached like every other stage.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { toolVersions } from "../../host/doctor.ts";
import { writeTar } from "../../image/tar.ts";
import { digestOf, sha256File } from "../digest.ts";
import type { Progress } from "../progress.ts";
import type { Store } from "../store.ts";
import type { DiskResult } from "./disk.ts";
import type { RootfsResult } from "./rootfs.ts";

const VERSION = 2; // 2: meta.json records sha256 of the outputs
export const ARTIFACTS = ["disk-img.tar.zst", "update-img.tar.zst"] as const;

export interface ArtifactsResult {
  dir: string;
  sha256: Record<string, string>;
}

export async function buildArtifacts(store: Store, subject: string, disk: DiskResult, rootfs: RootfsResult, opts: { version: string; sourceDateEpoch: number }, progress: Progress): Promise<ArtifactsResult> {
  const digest = digestOf({ stage: "artifacts", version: VERSION, disk: disk.digest, rootfs: rootfs.digest, imageVersion: opts.version, sde: opts.sourceDateEpoch, tools: await toolVersions(["zstd"]) });
  return progress.stage("artifacts", subject, digest, async () => {
    const hit = store.get("artifacts", digest);
    if (hit) return { value: { dir: hit.path, sha256: hit.meta.sha256 as Record<string, string> }, cache: "hit" };
    const entry = await store.put("artifacts", digest, async (dir) => {
      const mtime = opts.sourceDateEpoch;
      await writeTar({ out: join(dir, "disk-img.tar.zst"), entries: [{ path: "disk.img", type: "file", source: disk.diskImg }], mtime, compress: "zstd", sparse: true });
      const versionFile = join(dir, "VERSION.TXT");
      await writeFile(versionFile, opts.version + "\n");
      const update = [
        { path: "VERSION.TXT", type: "file", source: versionFile },
        { path: "boot.img", type: "file", source: rootfs.bootImg },
        { path: "root.img", type: "file", source: rootfs.rootImg },
      ] as const;
      await writeTar({ out: join(dir, "update-img.tar.zst"), entries: update, mtime, compress: "zstd", sparse: true });
      const sha256: Record<string, string> = {};
      for (const a of ARTIFACTS) sha256[a] = await sha256File(join(dir, a));
      return { version: opts.version, sha256 };
    });
    return { value: { dir: entry.path, sha256: entry.meta.sha256 as Record<string, string> }, cache: "miss" };
  });
}
