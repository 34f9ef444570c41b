// Stage 6: the compressed artifacts of a build: disk-img.tar.zst (the sparse disk) and
// update-img.tar.zst (boot.img, root.img, VERSION.TXT), cached like every other stage.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { toolVersions } from "../../host/doctor.ts";
import { writeTar } from "../../image/tar.ts";
import { digestOf } from "../digest.ts";
import type { Progress } from "../progress.ts";
import type { Store } from "../store.ts";
import type { DiskResult } from "./disk.ts";
import type { RootfsResult } from "./rootfs.ts";

const VERSION = 1;
export const ARTIFACTS = ["disk-img.tar.zst", "update-img.tar.zst"] as const;

export async function buildArtifacts(store: Store, subject: string, disk: DiskResult, rootfs: RootfsResult, opts: { version: string; sourceDateEpoch: number }, progress: Progress): Promise<string> {
  const digest = digestOf({ stage: "artifacts", version: VERSION, disk: disk.digest, rootfs: rootfs.digest, imageVersion: opts.version, sde: opts.sourceDateEpoch, tools: await toolVersions(["zstd"]) });
  return progress.stage("artifacts", subject, digest, async () => {
    const hit = store.get("artifacts", digest);
    if (hit) return { value: hit.path, cache: "hit" };
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
      return { version: opts.version };
    });
    return { value: entry.path, cache: "miss" };
  });
}
