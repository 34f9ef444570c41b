// dm-verity's on-disk format (format version 1, sha256, "normal" hash type), bytes in and bytes
// out: the superblock veritysetup writes at the hash offset, where each level of the hash tree
// lies, and how many data blocks fit in a partition that also holds its own tree. The kernel's
// dm-verity target (Documentation/admin-guide/device-mapper/verity.rst) and cryptsetup's
// `veritysetup format` are the references; a fast test requires the same bytes as veritysetup.
// src/image/verity.ts hashes an image with it.
import { FormatError } from "./format-error.ts";

export const VERITY_SUPERBLOCK_BYTES = 512;
export const VERITY_DIGEST_BYTES = 32; // sha256
const SIGNATURE = "verity\0\0";
const MAX_SALT_BYTES = 256;

export interface VerityParams {
  /** Data and hash block size (icos uses one size for both). */
  blockSize: number;
  dataBlocks: number;
  /** At most 256 bytes. */
  salt: Buffer;
  /** The hash device's UUID, as text. */
  uuid: string;
}

export interface VerityGeometry {
  /** Hash blocks per level, level 0 (the hashes of the data blocks) first. */
  levelBlocks: number[];
  /** Block index (from the hash offset) where each level starts; the top level comes first on disk. */
  levelStart: number[];
  /** Hash area in blocks: the superblock's block, then every level. */
  totalBlocks: number;
}

function log2(n: number): number {
  const b = Math.log2(n);
  if (!Number.isInteger(b)) throw new FormatError(`verity block size ${n} is not a power of two`);
  return b;
}

/**
 * The tree dm-verity expects for `dataBlocks` blocks: as many levels as it takes to reach one
 * block, stored top level first, right after the superblock's block.
 */
export function verityGeometry(blockSize: number, dataBlocks: number): VerityGeometry {
  if (!Number.isSafeInteger(dataBlocks) || dataBlocks < 1) throw new FormatError(`verity: data blocks must be a positive integer, got ${dataBlocks}`);
  const perBlockBits = log2(blockSize / VERITY_DIGEST_BYTES);
  const levelBlocks: number[] = [];
  // The kernel's rule: add levels while (dataBlocks - 1) >> (bits * levels) is non-zero.
  for (let level = 0; level === 0 || Math.floor((dataBlocks - 1) / 2 ** (perBlockBits * level)) > 0; level++) {
    levelBlocks.push(Math.ceil(dataBlocks / 2 ** (perBlockBits * (level + 1))));
    if (levelBlocks[level] === 1) break;
  }
  const levelStart = new Array<number>(levelBlocks.length);
  let at = 1; // block 0 holds the superblock
  for (let level = levelBlocks.length - 1; level >= 0; level--) {
    levelStart[level] = at;
    at += levelBlocks[level]!;
  }
  return { levelBlocks, levelStart, totalBlocks: at };
}

/** The most data blocks that fit in `totalBlocks` together with their own hash area. */
export function verityDataBlocksFor(blockSize: number, totalBlocks: number): number {
  let n = totalBlocks - verityGeometry(blockSize, Math.max(1, totalBlocks - 2)).totalBlocks;
  while (n > 1 && n + verityGeometry(blockSize, n).totalBlocks > totalBlocks) n--;
  if (n < 1) throw new FormatError(`verity: ${totalBlocks} blocks cannot hold data and a hash tree`);
  while (n + 1 + verityGeometry(blockSize, n + 1).totalBlocks <= totalBlocks) n++;
  return n;
}

/** The 512-byte superblock (veritysetup's format, version 1, hash type 1). */
export function encodeVeritySuperblock(p: VerityParams): Buffer {
  if (p.salt.length > MAX_SALT_BYTES) throw new FormatError(`verity: salt is ${p.salt.length} bytes, at most ${MAX_SALT_BYTES}`);
  const sb = Buffer.alloc(VERITY_SUPERBLOCK_BYTES);
  sb.write(SIGNATURE, 0, "latin1");
  sb.writeUInt32LE(1, 8); // format version
  sb.writeUInt32LE(1, 12); // hash type: normal (salt first)
  uuidBytes(p.uuid).copy(sb, 16);
  sb.write("sha256", 32, "latin1");
  sb.writeUInt32LE(p.blockSize, 64);
  sb.writeUInt32LE(p.blockSize, 68);
  sb.writeBigUInt64LE(BigInt(p.dataBlocks), 72);
  sb.writeUInt16LE(p.salt.length, 80);
  p.salt.copy(sb, 88);
  return sb;
}

/** The superblock's fields (for tests and inspection). */
export function decodeVeritySuperblock(sb: Buffer): VerityParams & { algorithm: string } {
  if (sb.length < VERITY_SUPERBLOCK_BYTES || sb.toString("latin1", 0, 8) !== SIGNATURE) throw new FormatError("verity: no superblock signature");
  const version = sb.readUInt32LE(8);
  const hashType = sb.readUInt32LE(12);
  if (version !== 1 || hashType !== 1) throw new FormatError(`verity: superblock version ${version}, hash type ${hashType}: only 1/1 is supported`);
  const dataBlockSize = sb.readUInt32LE(64);
  if (dataBlockSize !== sb.readUInt32LE(68)) throw new FormatError("verity: data and hash block sizes differ");
  const saltSize = sb.readUInt16LE(80);
  if (saltSize > MAX_SALT_BYTES) throw new FormatError(`verity: salt size ${saltSize}`);
  const hex = sb.toString("hex", 16, 32);
  return {
    algorithm: sb.toString("latin1", 32, 64).replace(/\0+$/, ""),
    blockSize: dataBlockSize,
    dataBlocks: Number(sb.readBigUInt64LE(72)),
    salt: Buffer.from(sb.subarray(88, 88 + saltSize)),
    uuid: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
  };
}

/** A UUID's 16 bytes in text order (uuid_parse), not GPT's mixed-endian GUID order. */
function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new FormatError(`verity: bad uuid "${uuid}"`);
  return Buffer.from(hex, "hex");
}
