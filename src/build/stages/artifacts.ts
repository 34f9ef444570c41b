// Stage: the compressed artifacts of a build: disk-img.tar.zst (the sparse disk) and, for A/B
// images, update-img.tar.zst (boot.img, root.img, VERSION.TXT) and update-img-test.tar.zst (the
// same system stamped "<version>-test", so a machine can upgrade to what it runs).
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../exec.ts";
import { sha256File } from "../../fs/hash.ts";
import { editExt4 } from "../../image/ext4-edit.ts";
import { resealVerityRoot } from "../../image/verity.ts";
import { writeTar } from "../../image/tar.ts";
import { writeUpdateImage } from "../../image/update-image.ts";
import { signUpdateImage, type SigningKey } from "../../image/update-signature.ts";
import { VERSION_FILES } from "../../model/device-contract.ts";
import type { Stage } from "../stage.ts";

export const DISK_ARCHIVE = "disk-img.tar.zst";
export const UPDATE_ARCHIVES = ["update-img.tar.zst", "update-img-test.tar.zst"] as const;

export interface ArtifactsInput {
  subject: string;
  disk: { img: string; digest: string };
  /** The slot images for update images (A/B kinds); absent: the disk archive only. */
  slot?: { bootImg: string; rootImg: string; digest: string };
  version: string;
  sourceDateEpoch: number;
  target: string;
  /** The OS: its verity salt and uuid, when the test image's root is sealed again. */
  osName: string;
  signing?: SigningKey;
}

export interface ArtifactsOutput {
  dir: string;
  /** Archive name -> sha256. */
  sha256: Record<string, string>;
}

export const artifactsStage: Stage<ArtifactsInput, ArtifactsOutput> = {
  name: "artifacts",
  version: 7, // 7: the test image's verity root is sealed again
  tools: ["zstd", "debugfs", "e2fsck", "openssl"],
  // The signing key enters the digest by its public key's fingerprint; the private key never does.
  key: (i) => ({ disk: i.disk.digest, slot: i.slot?.digest ?? null, imageVersion: i.version, sde: i.sourceDateEpoch, target: i.target, os: i.osName, signedBy: i.signing?.fingerprint ?? null }),
  subject: (i) => i.subject,
  async run(dir, i) {
    const mtime = i.sourceDateEpoch;
    const names: string[] = [DISK_ARCHIVE];
    await writeTar({ out: join(dir, DISK_ARCHIVE), entries: [{ path: "disk.img", type: "file", source: i.disk.img }], mtime, compress: "zstd", sparse: true });
    if (i.slot) {
      await writeUpdateImage({ out: join(dir, UPDATE_ARCHIVES[0]), version: i.version, bootImg: i.slot.bootImg, rootImg: i.slot.rootImg, mtime });
      // The test image: copies of boot.img/root.img with only the version files rewritten.
      const testVersion = `${i.version}-test`;
      const work = join(dir, "test-img");
      await mkdir(work);
      const boot = join(work, "boot.img");
      const root = join(work, "root.img");
      await run("cp", ["--sparse=always", i.slot.bootImg, boot], { context: "copy boot.img for the test update image" });
      await run("cp", ["--sparse=always", i.slot.rootImg, root], { context: "copy root.img for the test update image" });
      const edit = { sourceDateEpoch: i.sourceDateEpoch };
      await editExt4(root, [{ type: "file", path: VERSION_FILES.root, content: testVersion + "\n" }], edit);
      await resealVerityRoot(boot, root, i.osName, i.sourceDateEpoch); // a verity root's hash changed with it
      await editExt4(boot, [{ type: "file", path: VERSION_FILES.boot, content: testVersion + "\n" }], edit);
      await writeUpdateImage({ out: join(dir, UPDATE_ARCHIVES[1]), version: testVersion, bootImg: boot, rootImg: root, mtime });
      await rm(work, { recursive: true });
      if (i.signing) for (const a of UPDATE_ARCHIVES) await signUpdateImage(join(dir, a), i.signing, i.target);
      names.push(...UPDATE_ARCHIVES);
    }
    const sha256: Record<string, string> = {};
    for (const a of names) sha256[a] = await sha256File(join(dir, a));
    return { version: i.version, signedBy: i.signing?.fingerprint ?? null, sha256 };
  },
  output: (dir, meta) => ({ dir, sha256: meta.sha256 as Record<string, string> }),
};
