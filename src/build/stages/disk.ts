// Stage: the GPT disk image. Each partition gets the image of another stage (or of another
// target, e.g. an embedded GuestOS disk) or stays empty.
import { join } from "node:path";
import { blockSha256 } from "../../fs/sparse.ts";
import { createDiskImage } from "../../image/disk.ts";
import { gptFromLayout } from "../../image/layout-gpt.ts";
import type { ResolvedLayout } from "../../model/layout.ts";
import { canonicalJson } from "../digest.ts";
import type { Stage } from "../stage.ts";

/** What goes into one partition: a file, its block digest, and the digest of what made it. */
export interface PartitionFill {
  source: string;
  blockSha256: string;
  /** The digest of the stage (or target) that made `source`: the cache key, not the path. */
  digest: string;
}

export interface DiskInput {
  subject: string;
  layout: ResolvedLayout;
  /** Partition index -> what to write there; the others are left empty (zeros, never written). */
  fill: Record<number, PartitionFill>;
}

export interface DiskOutput {
  diskImg: string;
  /** Block digests (src/fs/sparse.ts): of the disk, and of what was written in each partition. */
  diskBlockSha256: string;
  partitionBlockSha256: Record<number, string>;
}

export const diskStage: Stage<DiskInput, DiskOutput> = {
  name: "disk",
  version: 4, // 4: block digests, data extents only
  tools: [],
  key: (i) => ({ gpt: canonicalJson(gptFromLayout(i.layout)), fill: Object.fromEntries(Object.entries(i.fill).map(([n, f]) => [n, f.digest])) }),
  subject: (i) => i.subject,
  async run(dir, i) {
    const parts = Object.entries(i.fill).map(([index, f]) => ({ index: Number(index), source: f.source }));
    await createDiskImage(join(dir, "disk.img"), gptFromLayout(i.layout), parts);
    return { sizeBytes: i.layout.sizeBytes, blockSha256: await blockSha256(join(dir, "disk.img")) };
  },
  output: (dir, meta, i) => ({
    diskImg: join(dir, "disk.img"),
    diskBlockSha256: String(meta.blockSha256),
    partitionBlockSha256: Object.fromEntries(Object.entries(i.fill).map(([n, f]) => [n, f.blockSha256])),
  }),
};
