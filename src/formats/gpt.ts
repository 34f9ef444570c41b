// GUID Partition Table: a pure codec (no fs, clock or randomness; GUIDs are passed in).
// References are to the UEFI Specification 2.10, chapter 5 "GUID Partition Table (GPT) Disk
// Layout": 5.2.3 protective MBR, 5.3.1 layout, 5.3.2 GPT header, 5.3.3 partition entry array.
// Disk layout we write (5.3.1): LBA 0 protective MBR, LBA 1 primary header, LBA 2.. primary
// entry array, usable space, backup entry array, backup header in the last LBA.
import { crc32 } from "node:zlib";
import { FormatError } from "./format-error.ts";
import { ZERO_GUID, guidToBytes, isGuid } from "./guid.ts";

/** Our names for the partition types icos uses (type GUIDs from 5.3.3 and the Discoverable Partitions Spec). */
export const PARTITION_TYPES = {
  esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
  linux: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
  lvm: "E6D6D379-F507-44C2-A23C-238F2A3DF928",
  msdata: "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
} as const;
export type PartitionTypeName = keyof typeof PARTITION_TYPES;

/** Type GUID -> our name, or undefined for a type we have no name for. */
export function partitionTypeName(typeGuid: string): PartitionTypeName | undefined {
  const guid = typeGuid.toUpperCase();
  return (Object.keys(PARTITION_TYPES) as PartitionTypeName[]).find((n) => PARTITION_TYPES[n] === guid);
}

/** Partition attribute bits, 5.3.3 Table "Defined GPT Partition Entry - Attributes". */
export const GPT_ATTRIBUTES = {
  requiredPartition: 1n << 0n,
  noBlockIoProtocol: 1n << 1n,
  legacyBiosBootable: 1n << 2n,
} as const;

export interface GptPartition {
  /** 1-based slot in the entry array (the N in /dev/sdaN). */
  index: number;
  typeGuid: string;
  partGuid: string;
  firstLba: number;
  /** Inclusive. */
  lastLba: number;
  attributes: bigint;
  name: string;
}

export interface GptDisk {
  sectorSize: number;
  sizeBytes: number;
  diskGuid: string;
  partitions: readonly GptPartition[];
  entryCount: number;
  entrySize: number;
}

export const GPT_DEFAULTS = { sectorSize: 512, entryCount: 128, entrySize: 128 } as const;

// 5.2.3, Tables "Protective MBR" and "Protective MBR Partition Record".
export const MBR_RECORD_OFFSET = 446; // first of four 16-byte partition records
export const MBR_RECORD_SIZE = 16;
export const MBR_SIGNATURE_OFFSET = 510;
export const MBR_SIGNATURE = 0xaa55;
const REC_STARTING_CHS = 1; // 3 bytes
export const REC_OS_TYPE = 4;
const REC_ENDING_CHS = 5; // 3 bytes
const REC_STARTING_LBA = 8; // 4 bytes
const REC_SIZE_IN_LBA = 12; // 4 bytes
export const PMBR_OS_TYPE = 0xee;
const UINT32_MAX = 0xffffffff;

// 5.3.2, Table "GPT Header".
export const H_SIGNATURE = 0; // 8 bytes
export const H_REVISION = 8;
export const H_HEADER_SIZE = 12;
export const H_HEADER_CRC = 16;
export const H_MY_LBA = 24;
export const H_ALTERNATE_LBA = 32;
export const H_FIRST_USABLE_LBA = 40;
export const H_LAST_USABLE_LBA = 48;
export const H_DISK_GUID = 56; // 16 bytes
export const H_ENTRY_LBA = 72;
export const H_ENTRY_COUNT = 80;
export const H_ENTRY_SIZE = 84;
export const H_ENTRIES_CRC = 88;
export const HEADER_SIZE = 92;
export const SIGNATURE = "EFI PART";
export const REVISION = 0x00010000;

// 5.3.3, Table "GPT Partition Entry".
export const E_TYPE_GUID = 0;
export const E_PART_GUID = 16;
export const E_FIRST_LBA = 32;
export const E_LAST_LBA = 40;
export const E_ATTRIBUTES = 48;
export const E_NAME = 56;
export const E_NAME_BYTES = 72; // 36 UTF-16LE code units
export const GPT_NAME_MAX_UNITS = 36;
export const MIN_ENTRY_SIZE = 128; // 5.3.2: 128 * 2^n
const MIN_ENTRY_ARRAY_BYTES = 16384; // 5.3.1: at least this much is reserved for each array
// Ours, not the spec's (whose fields are 32 bits): every tool writes 128 entries of 128 bytes, so a
// header asking for more than 1024 entries or entries over 4 KiB is refused before the array is
// read. At most 1024 x 4096 bytes = 4 MiB of entries is ever read, and 1024 partitions decoded.
export const MAX_ENTRY_COUNT = 1024;
export const MAX_ENTRY_SIZE = 4096;

export const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, "0")}`;

export interface GptGeometry {
  totalLbas: number;
  entryArrayLbas: number;
  primaryEntriesLba: number;
  firstUsableLba: number;
  lastUsableLba: number;
  backupEntriesLba: number;
  backupHeaderLba: number;
}

/** Where each structure goes on a disk of this size (5.3.1), checking the sizes make sense. */
export function gptGeometry(disk: Pick<GptDisk, "sectorSize" | "sizeBytes" | "entryCount" | "entrySize">): GptGeometry {
  const { sectorSize, sizeBytes, entryCount, entrySize } = disk;
  if (sectorSize !== 512 && sectorSize !== 4096) throw new FormatError(`gpt: sector size must be 512 or 4096, got ${sectorSize}`);
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % sectorSize !== 0) {
    throw new FormatError(`gpt: disk size must be a positive multiple of the ${sectorSize}-byte sector, got ${sizeBytes}`);
  }
  const powerOfTwo = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
  if (!powerOfTwo(entrySize) || entrySize < MIN_ENTRY_SIZE || entrySize > MAX_ENTRY_SIZE) {
    throw new FormatError(`gpt: entry size must be 128 * 2^n, at most ${MAX_ENTRY_SIZE}, got ${entrySize}`);
  }
  if (!Number.isInteger(entryCount) || entryCount * entrySize < MIN_ENTRY_ARRAY_BYTES || entryCount > MAX_ENTRY_COUNT) {
    throw new FormatError(`gpt: entry array must hold at least ${MIN_ENTRY_ARRAY_BYTES} bytes in at most ${MAX_ENTRY_COUNT} entries, got ${entryCount} x ${entrySize}`);
  }
  const totalLbas = sizeBytes / sectorSize;
  const entryArrayLbas = Math.ceil((entryCount * entrySize) / sectorSize);
  const g = {
    totalLbas,
    entryArrayLbas,
    primaryEntriesLba: 2,
    firstUsableLba: 2 + entryArrayLbas,
    lastUsableLba: totalLbas - 2 - entryArrayLbas,
    backupEntriesLba: totalLbas - 1 - entryArrayLbas,
    backupHeaderLba: totalLbas - 1,
  };
  if (g.lastUsableLba < g.firstUsableLba) throw new FormatError(`gpt: disk of ${sizeBytes} bytes is too small for two GPTs`);
  return g;
}

/** Problems with a partition list (shared by encode and decode), each naming the partition. */
export function partitionProblems(parts: readonly GptPartition[], g: Pick<GptGeometry, "firstUsableLba" | "lastUsableLba">, entryCount: number): string[] {
  const problems: string[] = [];
  const slots = new Set<number>();
  const guids = new Set<string>();
  const label = (p: GptPartition) => `partition ${p.index}${p.name ? ` (${p.name})` : ""}`;
  for (const p of parts) {
    if (!Number.isInteger(p.index) || p.index < 1 || p.index > entryCount) problems.push(`${label(p)}: slot must be 1..${entryCount}`);
    if (slots.has(p.index)) problems.push(`${label(p)}: slot ${p.index} used twice`);
    slots.add(p.index);
    if (!isGuid(p.typeGuid) || p.typeGuid === ZERO_GUID) problems.push(`${label(p)}: bad type GUID ${JSON.stringify(p.typeGuid)}`);
    if (!isGuid(p.partGuid) || p.partGuid === ZERO_GUID) problems.push(`${label(p)}: bad partition GUID ${JSON.stringify(p.partGuid)}`);
    else if (guids.has(p.partGuid.toUpperCase())) problems.push(`${label(p)}: partition GUID ${p.partGuid} used twice`);
    guids.add(p.partGuid.toUpperCase());
    if (!Number.isSafeInteger(p.firstLba) || !Number.isSafeInteger(p.lastLba) || p.firstLba > p.lastLba) {
      problems.push(`${label(p)}: bad LBA range ${p.firstLba}..${p.lastLba}`);
    } else if (p.firstLba < g.firstUsableLba || p.lastLba > g.lastUsableLba) {
      problems.push(`${label(p)}: LBAs ${p.firstLba}..${p.lastLba} outside the usable range ${g.firstUsableLba}..${g.lastUsableLba}`);
    }
    if (p.name.length > GPT_NAME_MAX_UNITS) problems.push(`${label(p)}: name is ${p.name.length} UTF-16 code units, at most ${GPT_NAME_MAX_UNITS} fit`);
    if (p.name.includes("\0")) problems.push(`${label(p)}: name contains a NUL character`);
    if (p.attributes < 0n || p.attributes >= 1n << 64n) problems.push(`${label(p)}: attributes do not fit 64 bits`);
  }
  const sorted = [...parts].sort((a, b) => a.firstLba - b.firstLba);
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1]!, sorted[i]!];
    if (b.firstLba <= a.lastLba) {
      problems.push(`${label(b)} (LBAs ${b.firstLba}..${b.lastLba}) overlaps ${label(a)} (LBAs ${a.firstLba}..${a.lastLba})`);
    }
  }
  return problems;
}

/** One block of bytes to write at `offsetBytes` (= lba * sectorSize). */
export interface GptRegion {
  what: string;
  lba: number;
  offsetBytes: number;
  bytes: Buffer;
}

// Cylinder/head/sector of an LBA with the 255-head, 63-sector geometry (as sgdisk does);
// 0xFFFFFF when it does not fit (5.2.3, Ending CHS).
function chs(lba: number): [number, number, number] {
  const cylinder = Math.floor(lba / (255 * 63));
  if (cylinder > 1023) return [0xff, 0xff, 0xff];
  const head = Math.floor(lba / 63) % 255;
  const sector = (lba % 63) + 1;
  return [head, sector | ((cylinder >> 2) & 0xc0), cylinder & 0xff];
}

function encodeProtectiveMbr(g: GptGeometry, sectorSize: number): Buffer {
  const mbr = Buffer.alloc(sectorSize);
  const rec = MBR_RECORD_OFFSET;
  mbr.set(chs(1), rec + REC_STARTING_CHS);
  mbr[rec + REC_OS_TYPE] = PMBR_OS_TYPE;
  const lastLba = g.totalLbas - 1;
  mbr.set(chs(lastLba), rec + REC_ENDING_CHS);
  mbr.writeUInt32LE(1, rec + REC_STARTING_LBA);
  mbr.writeUInt32LE(Math.min(lastLba, UINT32_MAX), rec + REC_SIZE_IN_LBA);
  mbr.writeUInt16LE(MBR_SIGNATURE, MBR_SIGNATURE_OFFSET);
  return mbr;
}

function encodeEntries(disk: GptDisk, g: GptGeometry): Buffer {
  const array = Buffer.alloc(g.entryArrayLbas * disk.sectorSize);
  for (const p of disk.partitions) {
    const at = (p.index - 1) * disk.entrySize;
    array.set(guidToBytes(p.typeGuid), at + E_TYPE_GUID);
    array.set(guidToBytes(p.partGuid), at + E_PART_GUID);
    array.writeBigUInt64LE(BigInt(p.firstLba), at + E_FIRST_LBA);
    array.writeBigUInt64LE(BigInt(p.lastLba), at + E_LAST_LBA);
    array.writeBigUInt64LE(p.attributes, at + E_ATTRIBUTES);
    array.write(p.name, at + E_NAME, "utf16le");
  }
  return array;
}

function encodeHeader(disk: GptDisk, g: GptGeometry, myLba: number, alternateLba: number, entryLba: number, entriesCrc: number): Buffer {
  const h = Buffer.alloc(disk.sectorSize);
  h.write(SIGNATURE, H_SIGNATURE, "latin1");
  h.writeUInt32LE(REVISION, H_REVISION);
  h.writeUInt32LE(HEADER_SIZE, H_HEADER_SIZE);
  h.writeBigUInt64LE(BigInt(myLba), H_MY_LBA);
  h.writeBigUInt64LE(BigInt(alternateLba), H_ALTERNATE_LBA);
  h.writeBigUInt64LE(BigInt(g.firstUsableLba), H_FIRST_USABLE_LBA);
  h.writeBigUInt64LE(BigInt(g.lastUsableLba), H_LAST_USABLE_LBA);
  h.set(guidToBytes(disk.diskGuid), H_DISK_GUID);
  h.writeBigUInt64LE(BigInt(entryLba), H_ENTRY_LBA);
  h.writeUInt32LE(disk.entryCount, H_ENTRY_COUNT);
  h.writeUInt32LE(disk.entrySize, H_ENTRY_SIZE);
  h.writeUInt32LE(entriesCrc, H_ENTRIES_CRC);
  // The header CRC covers HeaderSize bytes with its own field still zero (5.3.2).
  h.writeUInt32LE(crc32(h.subarray(0, HEADER_SIZE)), H_HEADER_CRC);
  return h;
}

/** The five regions of a GPT disk, in disk order. Throws FormatError listing every problem. */
export function encodeGpt(disk: GptDisk): GptRegion[] {
  const g = gptGeometry(disk);
  const problems = partitionProblems(disk.partitions, g, disk.entryCount);
  if (!isGuid(disk.diskGuid)) problems.unshift(`disk GUID: ${JSON.stringify(disk.diskGuid)} is not a GUID`);
  if (problems.length > 0) throw new FormatError(`gpt: cannot encode:\n  ${problems.join("\n  ")}`);
  const entries = encodeEntries(disk, g);
  const entriesCrc = crc32(entries.subarray(0, disk.entryCount * disk.entrySize));
  const region = (what: string, lba: number, bytes: Buffer): GptRegion => ({ what, lba, offsetBytes: lba * disk.sectorSize, bytes });
  return [
    region("protective MBR", 0, encodeProtectiveMbr(g, disk.sectorSize)),
    region("primary header", 1, encodeHeader(disk, g, 1, g.backupHeaderLba, g.primaryEntriesLba, entriesCrc)),
    region("primary entry array", g.primaryEntriesLba, entries),
    region("backup entry array", g.backupEntriesLba, entries),
    region("backup header", g.backupHeaderLba, encodeHeader(disk, g, g.backupHeaderLba, 1, g.backupEntriesLba, entriesCrc)),
  ];
}
