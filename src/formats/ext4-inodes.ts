// ext4 inode tables, bytes in and bytes out: the superblock and group descriptor fields that locate
// each group's inode table and bitmap, and an edit of the in-use inodes of one table (times, the
// root directory's mode) with their metadata_csum checksums rewritten as e2fsprogs computes them.
// src/image/ext4-times.ts reads and writes the image. Layout facts: the ext4 disk layout
// (kernel.org, Documentation/filesystems/ext4). Only what mke2fs makes for icos is supported:
// no meta_bg.
import { crc32c } from "./crc32c.ts";
import { FormatError } from "./format-error.ts";

/** Where the superblock is, and how many bytes of it we read. */
export const EXT4_SUPERBLOCK = { offset: 1024, bytes: 1024 } as const;

const MAGIC = 0xef53;
const INCOMPAT_META_BG = 0x10;
const INCOMPAT_64BIT = 0x80;
const INCOMPAT_CSUM_SEED = 0x2000;
const RO_COMPAT_GDT_CSUM = 0x10;
const RO_COMPAT_METADATA_CSUM = 0x400;
const BG_INODE_UNINIT = 0x1;
/** Offsets in an inode. */
const I = { mode: 0x00, atime: 0x08, ctime: 0x0c, mtime: 0x10, generation: 0x64, csumLo: 0x7c, extraIsize: 0x80, csumHi: 0x82, ctimeExtra: 0x84, mtimeExtra: 0x88, atimeExtra: 0x8c } as const;

export interface Ext4Geometry {
  blockSize: number;
  inodesPerGroup: number;
  inodeSize: number;
  groups: number;
  /** Byte offset and length of the group descriptor table. */
  gdtOffset: number;
  gdtBytes: number;
  descSize: number;
  is64: boolean;
  /** metadata_csum: inodes carry a crc32c. */
  metadataCsum: boolean;
  /** bg_itable_unused is kept (gdt_csum or metadata_csum): only the used start of a table is initialised. */
  itableUnusedKept: boolean;
  /** The checksum seed: crc32c of the filesystem UUID, or the superblock's own seed. */
  csumSeed: number;
}

/** The geometry from the superblock's bytes (EXT4_SUPERBLOCK). */
export function parseSuperblock(sb: Uint8Array): Ext4Geometry {
  const b = Buffer.from(sb.buffer, sb.byteOffset, sb.byteLength);
  if (b.length < EXT4_SUPERBLOCK.bytes || b.readUInt16LE(0x38) !== MAGIC) throw new FormatError("ext4: no superblock (magic 0xef53 missing)");
  const incompat = b.readUInt32LE(0x60);
  const roCompat = b.readUInt32LE(0x64);
  if (incompat & INCOMPAT_META_BG) throw new FormatError("ext4: meta_bg group descriptors are not supported");
  const blockSize = 1024 << b.readUInt32LE(0x18);
  const firstDataBlock = b.readUInt32LE(0x14);
  const is64 = (incompat & INCOMPAT_64BIT) !== 0;
  const blocksCount = b.readUInt32LE(0x04) + (is64 ? b.readUInt32LE(0x150) * 2 ** 32 : 0);
  const groups = Math.ceil((blocksCount - firstDataBlock) / b.readUInt32LE(0x20));
  const descSize = is64 ? b.readUInt16LE(0xfe) : 32;
  const metadataCsum = (roCompat & RO_COMPAT_METADATA_CSUM) !== 0;
  return {
    blockSize,
    inodesPerGroup: b.readUInt32LE(0x28),
    inodeSize: b.readUInt16LE(0x58),
    groups,
    gdtOffset: (firstDataBlock + 1) * blockSize,
    gdtBytes: groups * descSize,
    descSize,
    is64,
    metadataCsum,
    itableUnusedKept: metadataCsum || (roCompat & RO_COMPAT_GDT_CSUM) !== 0,
    csumSeed: incompat & INCOMPAT_CSUM_SEED ? b.readUInt32LE(0x270) : crc32c(0xffffffff, b.subarray(0x68, 0x78)),
  };
}

/** One group's initialised inode table: byte offsets of its inode bitmap and table, and how many inodes to read. */
export interface InodeTable {
  group: number;
  bitmapOffset: number;
  tableOffset: number;
  count: number;
}

/** The groups whose inode tables hold initialised inodes (never-used ones are skipped). */
export function inodeTables(geo: Ext4Geometry, gdt: Uint8Array): InodeTable[] {
  const b = Buffer.from(gdt.buffer, gdt.byteOffset, gdt.byteLength);
  const tables: InodeTable[] = [];
  for (let g = 0; g < geo.groups; g++) {
    const d = g * geo.descSize;
    const u32 = (lo: number, hi: number) => b.readUInt32LE(d + lo) + (geo.is64 ? b.readUInt32LE(d + hi) * 2 ** 32 : 0);
    const unused = geo.itableUnusedKept ? b.readUInt16LE(d + 0x1c) + (geo.is64 ? b.readUInt16LE(d + 0x32) * 2 ** 16 : 0) : 0;
    const count = geo.inodesPerGroup - unused;
    if ((b.readUInt16LE(d + 0x12) & BG_INODE_UNINIT) !== 0 || count <= 0) continue;
    tables.push({ group: g, bitmapOffset: u32(0x00, 0x20) * geo.blockSize, tableOffset: u32(0x08, 0x28) * geo.blockSize, count });
  }
  return tables;
}

/** The seconds field and the extra field's epoch bits (ext4 keeps a signed 32-bit time plus two epoch bits). */
function encodeTime(seconds: number): { lo: number; epoch: number } {
  if (!Number.isInteger(seconds) || seconds < -(2 ** 31) || seconds >= 3 * 2 ** 32) throw new FormatError(`ext4: time ${seconds} cannot be encoded`);
  const lo = seconds >>> 0;
  return { lo, epoch: ((seconds - (lo | 0)) / 2 ** 32) & 3 };
}

/**
 * In `table` (t.count inodes of group t.group) set atime, ctime and mtime of every inode the
 * `bitmap` marks in use to `seconds` (clearing the nanoseconds; crtime stays), the root directory's
 * permission bits to `rootMode` when given, and rewrite their checksums. Returns how many changed.
 */
export function setTableTimes(geo: Ext4Geometry, t: InodeTable, table: Uint8Array, bitmap: Uint8Array, seconds: number, rootMode?: number): number {
  const time = encodeTime(seconds);
  const buf = Buffer.from(table.buffer, table.byteOffset, table.byteLength);
  let changed = 0;
  for (let i = 0; i < t.count; i++) {
    if ((bitmap[i >> 3]! & (1 << (i & 7))) === 0) continue;
    const ino = t.group * geo.inodesPerGroup + i + 1;
    const inode = buf.subarray(i * geo.inodeSize, (i + 1) * geo.inodeSize);
    if (inode.readUInt16LE(I.mode) === 0) continue; // reserved and never used (inode 1's bad-block list)
    for (const off of [I.atime, I.ctime, I.mtime]) inode.writeUInt32LE(time.lo, off);
    const extra = geo.inodeSize > 128 ? inode.readUInt16LE(I.extraIsize) : 0;
    // An extra time field exists when i_extra_isize reaches past it.
    for (const off of [I.ctimeExtra, I.mtimeExtra, I.atimeExtra]) if (128 + extra >= off + 4) inode.writeUInt32LE(time.epoch, off);
    if (ino === 2 && rootMode !== undefined) inode.writeUInt16LE((inode.readUInt16LE(I.mode) & 0o170000) | (rootMode & 0o7777), I.mode);
    if (geo.metadataCsum) writeInodeChecksum(inode, ino, geo.csumSeed, extra);
    changed++;
  }
  return changed;
}

/** metadata_csum: crc32c(seed, inode number, generation, the whole inode with its checksum fields zeroed). */
function writeInodeChecksum(inode: Buffer, ino: number, seed: number, extraIsize: number): void {
  const hasHi = inode.length > 128 && extraIsize >= I.csumHi + 2 - 128;
  inode.writeUInt16LE(0, I.csumLo);
  if (hasHi) inode.writeUInt16LE(0, I.csumHi);
  const num = Buffer.alloc(8);
  num.writeUInt32LE(ino, 0);
  num.writeUInt32LE(inode.readUInt32LE(I.generation), 4);
  const crc = crc32c(crc32c(seed, num), inode);
  inode.writeUInt16LE(crc & 0xffff, I.csumLo);
  if (hasHi) inode.writeUInt16LE(crc >>> 16, I.csumHi);
}
