// The update image, update-img.tar.zst: what `icos upgrade` sends and manageboot.sh installs.
// VERSION.TXT (the version and a newline), boot.img and root.img (the ext4 images of one A/B
// slot), in our deterministic sparse tar, compressed with zstd.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UPDATE_IMAGE_MEMBERS } from "../model/device-contract.ts";
import { writeTar } from "./tar.ts";

export async function writeUpdateImage(o: { out: string; version: string; bootImg: string; rootImg: string; mtime: number }): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "icos-update-img-"));
  try {
    const versionFile = join(work, "VERSION.TXT");
    await writeFile(versionFile, o.version + "\n");
    const source = { "VERSION.TXT": versionFile, "boot.img": o.bootImg, "root.img": o.rootImg };
    const entries = UPDATE_IMAGE_MEMBERS.map((path) => ({ path, type: "file" as const, source: source[path] }));
    await writeTar({ out: o.out, entries, mtime: o.mtime, compress: "zstd", sparse: true });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
