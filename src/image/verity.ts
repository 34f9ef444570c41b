// Seal a filesystem image with dm-verity in place: the hash tree goes into the same file, past the
// filesystem, and the file grows to the partition's size. What `veritysetup format` does (the fast
// test requires its bytes), but reading only the image's data extents: every hole is a zero block,
// whose hash is a constant, so a 10 GiB root with 400 MiB of files costs 400 MiB of hashing.
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import { UserError } from "../errors.ts";
import { run } from "../exec.ts";
import { dataExtents, readFull, writeAll } from "../fs/sparse.ts";
import { nameGuid } from "../formats/guid.ts";
import { encodeVeritySuperblock, VERITY_DIGEST_BYTES, verityGeometry, type VerityParams } from "../formats/verity.ts";
import { VERITY_KERNEL_ARGS } from "../model/device-contract.ts";
import { editExt4 } from "./ext4-edit.ts";

/** A verity root's block size (data and hash), also the root filesystem's. */
export const VERITY_BLOCK_BYTES = 4096;

/** The verity salt and hash-device uuid of an OS's root: fixed per OS, so the root hash is reproducible. */
export function verityIdentity(osName: string): { salt: Buffer; uuid: string } {
  return { salt: createHash("sha256").update(`icos verity salt: ${osName} root`).digest(), uuid: nameGuid(osName, "root verity").toLowerCase() };
}

export interface VeritySeal {
  /** The root hash, lower-case hex: the kernel command line carries it. */
  rootHash: string;
  /** Where the verity superblock starts (= the filesystem's bytes). */
  hashOffsetBytes: number;
}

/**
 * The kernel arguments of a verity root (read by the verity-root component's initramfs script):
 * the root hash, and where the hash tree starts in the root partition.
 */
export function verityArgs(seal: VeritySeal): string {
  return `${VERITY_KERNEL_ARGS.rootHash}=${seal.rootHash} ${VERITY_KERNEL_ARGS.hashOffset}=${seal.hashOffsetBytes}`;
}

const CHUNK_BLOCKS = 1024;

function saltedHash(salt: Buffer, block: Buffer): Buffer {
  return createHash("sha256").update(salt).update(block).digest();
}

/**
 * Hash the first `p.dataBlocks` blocks of `image` and write the superblock and tree right after
 * them, then extend the file to `totalBytes`. The filesystem must already fit in the data blocks.
 */
export async function sealVerity(image: string, totalBytes: number, p: VerityParams): Promise<VeritySeal> {
  const bs = p.blockSize;
  const dataBytes = p.dataBlocks * bs;
  const g = verityGeometry(bs, p.dataBlocks);
  if (dataBytes + g.totalBlocks * bs > totalBytes) throw new UserError(`verity ${image}: ${p.dataBlocks} data blocks and ${g.totalBlocks} hash blocks do not fit in ${totalBytes} bytes`);
  const size = (await stat(image)).size;
  // A file already of the partition's size was sealed before (its filesystem edited since): its
  // old tree, past the data area, is simply overwritten.
  if (size > dataBytes && size !== totalBytes) throw new UserError(`verity ${image}: the filesystem (${size} bytes) is larger than the verity data area (${dataBytes} bytes)`);

  // Level 0: one digest per data block; holes (and the area past the file's end) are zero blocks.
  const levels = g.levelBlocks.map((n) => Buffer.alloc(n * bs));
  levels[0]!.fill(saltedHash(p.salt, Buffer.alloc(bs)), 0, p.dataBlocks * VERITY_DIGEST_BYTES);
  const fh = await open(image, "r+");
  try {
    const buf = Buffer.alloc(CHUNK_BLOCKS * bs);
    for (const e of await dataExtents(image)) {
      const first = Math.floor(e.offset / bs);
      const end = Math.min(p.dataBlocks, Math.ceil((e.offset + e.length) / bs));
      for (let b = first; b < end; b += CHUNK_BLOCKS) {
        const n = Math.min(CHUNK_BLOCKS, end - b);
        const chunk = buf.subarray(0, n * bs).fill(0);
        await readFull(fh, chunk.subarray(0, Math.max(0, Math.min(n * bs, size - b * bs))), b * bs);
        for (let i = 0; i < n; i++) saltedHash(p.salt, chunk.subarray(i * bs, (i + 1) * bs)).copy(levels[0]!, (b + i) * VERITY_DIGEST_BYTES);
      }
    }
    // Each upper level hashes the blocks of the one below.
    for (let level = 1; level < levels.length; level++) {
      const below = levels[level - 1]!;
      for (let i = 0; i < g.levelBlocks[level - 1]!; i++) saltedHash(p.salt, below.subarray(i * bs, (i + 1) * bs)).copy(levels[level]!, i * VERITY_DIGEST_BYTES);
    }
    const top = levels[levels.length - 1]!;
    const rootHash = saltedHash(p.salt, top.subarray(0, bs)).toString("hex");

    const sbBlock = Buffer.alloc(bs);
    encodeVeritySuperblock(p).copy(sbBlock);
    await writeAll(fh, sbBlock, dataBytes);
    for (let level = 0; level < levels.length; level++) await writeAll(fh, levels[level]!, dataBytes + g.levelStart[level]! * bs);
    await fh.truncate(totalBytes);
    await fh.sync();
    return { rootHash, hashOffsetBytes: dataBytes };
  } finally {
    await fh.close();
  }
}

/**
 * After an edit of a sealed root's filesystem (the "-test" update image, tests): hash it again
 * and put the new root hash into the boot image's boot_args. A boot image whose boot_args has no
 * root hash (no verity) is left alone. Returns the new root hash, if any.
 */
export async function resealVerityRoot(bootImg: string, rootImg: string, osName: string, sourceDateEpoch: number): Promise<string | undefined> {
  const { stdout: args } = await run("debugfs", ["-R", "cat /boot_args", bootImg], { context: `read boot_args of ${bootImg}` });
  const { rootHash, hashOffset } = VERITY_KERNEL_ARGS;
  const m = new RegExp(`\\b${rootHash}=([0-9a-f]{64}) ${hashOffset}=(\\d+)\\b`).exec(args);
  if (!m) return undefined;
  const offset = Number(m[2]);
  if (offset % VERITY_BLOCK_BYTES !== 0) throw new UserError(`${bootImg}: boot_args: ${hashOffset}=${offset} is not a multiple of ${VERITY_BLOCK_BYTES}`);
  const seal = await sealVerity(rootImg, (await stat(rootImg)).size, { blockSize: VERITY_BLOCK_BYTES, dataBlocks: offset / VERITY_BLOCK_BYTES, ...verityIdentity(osName) });
  const updated = args.replaceAll(m[0], verityArgs(seal));
  await editExt4(bootImg, [{ type: "file", path: "/boot_args", content: updated }], { sourceDateEpoch });
  return seal.rootHash;
}
