// Stage 6: the compressed artifacts of a build: disk-img.tar.zst (the sparse disk),
// update-img.tar.zst (boot.img, root.img, VERSION.TXT) and update-img-test.tar.zst (the same
// system stamped "<version>-test", so a machine can upgrade to what it runs), cached like every
// other stage.
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../exec.ts";
import { toolVersions } from "../../host/doctor.ts";
import { editExt4 } from "../../image/ext4-edit.ts";
import { writeTar } from "../../image/tar.ts";
import { writeUpdateImage } from "../../image/update-image.ts";
import { signUpdateImage, type SigningKey } from "../../image/update-signature.ts";
import { digestOf } from "../digest.ts";
import { sha256File } from "../../fs/hash.ts";
import type { Progress } from "../progress.ts";
import type { Store } from "../store.ts";
import type { DiskResult } from "./disk.ts";
import { VERSION_FILES, type RootfsResult } from "./rootfs.ts";

const VERSION = 5; // 5: signed update images, bound to their target
export const ARTIFACTS = ["disk-img.tar.zst", "update-img.tar.zst", "update-img-test.tar.zst"] as const;

export interface ArtifactsResult {
  dir: string;
  sha256: Record<string, string>;
}

export async function buildArtifacts(store: Store, subject: string, disk: DiskResult, rootfs: RootfsResult, opts: { version: string; sourceDateEpoch: number; target: string; signing?: SigningKey }, progress: Progress): Promise<ArtifactsResult> {
  // The signing key enters the digest by its public key's fingerprint; the private key never does.
  const tools = await toolVersions(["zstd", "debugfs", "e2fsck", ...(opts.signing ? ["openssl"] : [])]);
  const digest = digestOf({ stage: "artifacts", version: VERSION, disk: disk.digest, rootfs: rootfs.digest, imageVersion: opts.version, sde: opts.sourceDateEpoch, target: opts.target, signedBy: opts.signing?.fingerprint ?? null, tools });
  return progress.stage("artifacts", subject, digest, async () => {
    const hit = store.get("artifacts", digest);
    if (hit) return { value: { dir: hit.path, sha256: hit.meta.sha256 as Record<string, string> }, cache: "hit" };
    const entry = await store.put("artifacts", digest, async (dir) => {
      const mtime = opts.sourceDateEpoch;
      await writeTar({ out: join(dir, "disk-img.tar.zst"), entries: [{ path: "disk.img", type: "file", source: disk.diskImg }], mtime, compress: "zstd", sparse: true });
      await writeUpdateImage({ out: join(dir, "update-img.tar.zst"), version: opts.version, bootImg: rootfs.bootImg, rootImg: rootfs.rootImg, mtime });
      // The test image: copies of boot.img/root.img with only the version files rewritten.
      const testVersion = `${opts.version}-test`;
      const work = join(dir, "test-img");
      await mkdir(work);
      const boot = join(work, "boot.img");
      const root = join(work, "root.img");
      await run("cp", ["--sparse=always", rootfs.bootImg, boot], { context: "copy boot.img for the test update image" });
      await run("cp", ["--sparse=always", rootfs.rootImg, root], { context: "copy root.img for the test update image" });
      const edit = { sourceDateEpoch: opts.sourceDateEpoch };
      await editExt4(boot, [{ type: "file", path: VERSION_FILES.boot, content: testVersion + "\n" }], edit);
      await editExt4(root, [{ type: "file", path: VERSION_FILES.root, content: testVersion + "\n" }], edit);
      await writeUpdateImage({ out: join(dir, "update-img-test.tar.zst"), version: testVersion, bootImg: boot, rootImg: root, mtime });
      await rm(work, { recursive: true });
      if (opts.signing) for (const a of ["update-img.tar.zst", "update-img-test.tar.zst"]) await signUpdateImage(join(dir, a), opts.signing, opts.target);
      const sha256: Record<string, string> = {};
      for (const a of ARTIFACTS) sha256[a] = await sha256File(join(dir, a));
      return { version: opts.version, signedBy: opts.signing?.fingerprint ?? null, sha256 };
    });
    return { value: { dir: entry.path, sha256: entry.meta.sha256 as Record<string, string> }, cache: "miss" };
  });
}
