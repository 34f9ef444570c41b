// Stage 5b: the GPT disk image, with the A set filled (and the B set too with fillB).
import { join } from "node:path";
import { createDiskImage } from "../../image/disk.ts";
import { gptFromLayout } from "../../image/layout-gpt.ts";
import type { ResolvedLayout } from "../../model/layout.ts";
import { canonicalJson, digestOf } from "../digest.ts";
import { sha256File } from "../../fs/hash.ts";
import type { Progress } from "../progress.ts";
import type { Store } from "../store.ts";
import type { BootloaderResult } from "./bootloader.ts";
import type { RootfsResult } from "./rootfs.ts";
import { partitionOf, slotPartition } from "./slots.ts";

const VERSION = 2; // 2: meta.json records sha256 of the outputs

export interface DiskResult {
  diskImg: string;
  /** Partition index -> the image written there (others are left empty). */
  sources: Record<number, string>;
  /** Partition index -> sha256 of what was written there. */
  partitionSha256: Record<number, string>;
  diskSha256: string;
  digest: string;
}

export async function buildDisk(store: Store, subject: string, layout: ResolvedLayout, boot: BootloaderResult, rootfs: RootfsResult, opts: { fillB: boolean }, progress: Progress): Promise<DiskResult> {
  const sources: Record<number, string> = {
    [partitionOf(layout, "esp").index]: boot.espImg,
    [partitionOf(layout, "grub").index]: boot.grubImg,
  };
  const partitionSha256: Record<number, string> = {
    [partitionOf(layout, "esp").index]: boot.sha256["esp.img"]!,
    [partitionOf(layout, "grub").index]: boot.sha256["grub.img"]!,
  };
  for (const slot of opts.fillB ? (["A", "B"] as const) : (["A"] as const)) {
    sources[slotPartition(layout, "boot", slot).index] = rootfs.bootImg;
    sources[slotPartition(layout, "root", slot).index] = rootfs.rootImg;
    partitionSha256[slotPartition(layout, "boot", slot).index] = rootfs.sha256["boot.img"]!;
    partitionSha256[slotPartition(layout, "root", slot).index] = rootfs.sha256["root.img"]!;
  }
  const gpt = gptFromLayout(layout);
  const digest = digestOf({ stage: "disk", version: VERSION, gpt: canonicalJson(gpt), bootloader: boot.digest, rootfs: rootfs.digest, fillB: opts.fillB });
  return progress.stage("disk", subject, digest, async () => {
    const hit = store.get("disk", digest);
    const result = (dir: string, meta: Record<string, unknown>) => ({ diskImg: join(dir, "disk.img"), sources, partitionSha256, diskSha256: String(meta.sha256), digest });
    if (hit) return { value: result(hit.path, hit.meta), cache: "hit" };
    const entry = await store.put("disk", digest, async (dir) => {
      const parts = Object.entries(sources).map(([index, source]) => ({ index: Number(index), source }));
      await createDiskImage(join(dir, "disk.img"), gpt, parts);
      return { sizeBytes: layout.sizeBytes, sha256: await sha256File(join(dir, "disk.img")) };
    });
    return { value: result(entry.path, entry.meta), cache: "miss" };
  });
}
