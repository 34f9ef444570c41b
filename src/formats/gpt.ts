// GUID Partition Table: a pure codec (no fs, clock or randomness; GUIDs are passed in).
// References are to the UEFI Specification 2.10, chapter 5 "GUID Partition Table (GPT) Disk
// Layout": 5.2.3 protective MBR, 5.3.1 layout, 5.3.2 GPT header, 5.3.3 partition entry array.
// Disk layout we write (5.3.1): LBA 0 protective MBR, LBA 1 primary header, LBA 2.. primary
// entry array, usable space, backup entry array, backup header in the last LBA.
import { crc32 } from "node:zlib";
import { FormatError } from "./format-error.ts";
import { ZERO_GUID, guidFromBytes, guidToBytes, isGuid } from "./guid.ts";

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
const MBR_RECORD_OFFSET = 446; // first of four 16-byte partition records
const MBR_RECORD_SIZE = 16;
const MBR_SIGNATURE_OFFSET = 510;
const MBR_SIGNATURE = 0xaa55;
const REC_STARTING_CHS = 1; // 3 bytes
const REC_OS_TYPE = 4;
const REC_ENDING_CHS = 5; // 3 bytes
const REC_STARTING_LBA = 8; // 4 bytes
const REC_SIZE_IN_LBA = 12; // 4 bytes
const PMBR_OS_TYPE = 0xee;
const UINT32_MAX = 0xffffffff;

// 5.3.2, Table "GPT Header".
const H_SIGNATURE = 0; // 8 bytes
const H_REVISION = 8;
const H_HEADER_SIZE = 12;
const H_HEADER_CRC = 16;
const H_MY_LBA = 24;
const H_ALTERNATE_LBA = 32;
const H_FIRST_USABLE_LBA = 40;
const H_LAST_USABLE_LBA = 48;
const H_DISK_GUID = 56; // 16 bytes
const H_ENTRY_LBA = 72;
const H_ENTRY_COUNT = 80;
const H_ENTRY_SIZE = 84;
const H_ENTRIES_CRC = 88;
const HEADER_SIZE = 92;
const SIGNATURE = "EFI PART";
const REVISION = 0x00010000;

// 5.3.3, Table "GPT Partition Entry".
const E_TYPE_GUID = 0;
const E_PART_GUID = 16;
const E_FIRST_LBA = 32;
const E_LAST_LBA = 40;
const E_ATTRIBUTES = 48;
const E_NAME = 56;
const E_NAME_BYTES = 72; // 36 UTF-16LE code units
export const GPT_NAME_MAX_UNITS = 36;
const MIN_ENTRY_SIZE = 128; // 5.3.2: 128 * 2^n
const MIN_ENTRY_ARRAY_BYTES = 16384; // 5.3.1: at least this much is reserved for each array
const MAX_ENTRY_ARRAY_BYTES = 16 << 20; // ours: refuse absurd counts from a corrupt header

const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, "0")}`;

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
  if (!powerOfTwo(entrySize) || entrySize < MIN_ENTRY_SIZE) throw new FormatError(`gpt: entry size must be 128 * 2^n, got ${entrySize}`);
  if (!Number.isInteger(entryCount) || entryCount * entrySize < MIN_ENTRY_ARRAY_BYTES) {
    throw new FormatError(`gpt: entry array must hold at least ${MIN_ENTRY_ARRAY_BYTES} bytes, got ${entryCount} x ${entrySize}`);
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
function partitionProblems(parts: readonly GptPartition[], g: Pick<GptGeometry, "firstUsableLba" | "lastUsableLba">, entryCount: number): string[] {
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

// ---- decoding ----

/** Reads `length` bytes at `offsetBytes` of the disk (fs.readSync on a file, or a Buffer slice). */
export type ReadAt = (offsetBytes: number, length: number) => Uint8Array;

export interface DecodeGptOptions {
  /** Default 512. */
  sectorSize?: number;
  /**
   * true (default): any problem throws FormatError, including a corrupt primary GPT whose backup is
   * intact. false: decode whichever table is intact (primary first) and list every problem in
   * `warnings`; throws only when neither is usable.
   */
  strict?: boolean;
}

export interface DecodedGpt {
  disk: GptDisk;
  firstUsableLba: number;
  lastUsableLba: number;
  /** Which header `disk` came from: "backup" only with { strict: false }. */
  source: "primary" | "backup";
  warnings: string[];
}

interface Table {
  lba: number;
  alternateLba: number;
  firstUsableLba: number;
  lastUsableLba: number;
  diskGuid: string;
  entryLba: number;
  entryCount: number;
  entrySize: number;
  entriesCrc: number;
  entries: Buffer;
}

type ReadLbas = (lba: number, count: number, what: string) => Buffer;

function u64(b: Buffer, offset: number, where: string): number {
  const v = b.readBigUInt64LE(offset);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`gpt: ${where}: value ${v} is too large`);
  return Number(v);
}

function protectiveMbrProblems(mbr: Buffer): string[] {
  const sig = mbr.readUInt16LE(MBR_SIGNATURE_OFFSET);
  if (sig !== MBR_SIGNATURE) {
    return [`gpt: no MBR signature at LBA 0 (offset ${MBR_SIGNATURE_OFFSET}): stored 0x${sig.toString(16).padStart(4, "0")}, expected 0xaa55`];
  }
  for (let i = 0; i < 4; i++) if (mbr[MBR_RECORD_OFFSET + i * MBR_RECORD_SIZE + REC_OS_TYPE] === PMBR_OS_TYPE) return [];
  return [`gpt: no protective partition record (type 0xee) in the MBR at LBA 0 (offsets ${MBR_RECORD_OFFSET}..${MBR_SIGNATURE_OFFSET - 1})`];
}

/** One header and its entry array, checked on their own (5.3.2 "GPT Header" validation steps). */
function readTable(read: ReadLbas, lba: number, totalLbas: number, sectorSize: number): Table {
  const h = read(lba, 1, "GPT header");
  const at = `at LBA ${lba}`;
  const signature = h.toString("latin1", H_SIGNATURE, H_SIGNATURE + SIGNATURE.length);
  if (signature !== SIGNATURE) throw new FormatError(`gpt: no GPT header ${at}: signature (offset 0) is ${JSON.stringify(signature)}, expected "${SIGNATURE}"`);
  const revision = h.readUInt32LE(H_REVISION);
  if (revision !== REVISION) throw new FormatError(`gpt: unsupported revision ${at} (offset ${H_REVISION}): stored ${hex32(revision)}, expected ${hex32(REVISION)}`);
  const headerSize = h.readUInt32LE(H_HEADER_SIZE);
  if (headerSize < HEADER_SIZE || headerSize > sectorSize) {
    throw new FormatError(`gpt: bad header size ${at} (offset ${H_HEADER_SIZE}): stored ${headerSize}, expected ${HEADER_SIZE}..${sectorSize}`);
  }
  const stored = h.readUInt32LE(H_HEADER_CRC);
  const zeroed = Buffer.from(h.subarray(0, headerSize));
  zeroed.writeUInt32LE(0, H_HEADER_CRC);
  const computed = crc32(zeroed);
  if (stored !== computed) throw new FormatError(`gpt: header CRC mismatch ${at}: stored ${hex32(stored)}, computed ${hex32(computed)}`);
  const myLba = u64(h, H_MY_LBA, `my_lba ${at}`);
  if (myLba !== lba) throw new FormatError(`gpt: my_lba mismatch ${at} (offset ${H_MY_LBA}): stored ${myLba}, expected ${lba}`);
  const t = {
    lba,
    alternateLba: u64(h, H_ALTERNATE_LBA, `alternate_lba ${at}`),
    firstUsableLba: u64(h, H_FIRST_USABLE_LBA, `first_usable_lba ${at}`),
    lastUsableLba: u64(h, H_LAST_USABLE_LBA, `last_usable_lba ${at}`),
    diskGuid: guidFromBytes(h, H_DISK_GUID),
    entryLba: u64(h, H_ENTRY_LBA, `partition_entry_lba ${at}`),
    entryCount: h.readUInt32LE(H_ENTRY_COUNT),
    entrySize: h.readUInt32LE(H_ENTRY_SIZE),
    entriesCrc: h.readUInt32LE(H_ENTRIES_CRC),
  };
  if (t.firstUsableLba > t.lastUsableLba || t.lastUsableLba >= totalLbas) {
    throw new FormatError(`gpt: bad usable range ${at} (offsets ${H_FIRST_USABLE_LBA}, ${H_LAST_USABLE_LBA}): ${t.firstUsableLba}..${t.lastUsableLba} on a disk of ${totalLbas} LBAs`);
  }
  const arrayBytes = t.entryCount * t.entrySize;
  if (t.entrySize < MIN_ENTRY_SIZE || t.entrySize % 8 !== 0 || arrayBytes > MAX_ENTRY_ARRAY_BYTES) {
    throw new FormatError(`gpt: bad entry array shape ${at} (offsets ${H_ENTRY_COUNT}, ${H_ENTRY_SIZE}): ${t.entryCount} entries of ${t.entrySize} bytes`);
  }
  const arrayLbas = Math.ceil(arrayBytes / sectorSize);
  if (t.entryLba < 1 || t.entryLba + arrayLbas > totalLbas) {
    throw new FormatError(`gpt: entry array ${at} (offset ${H_ENTRY_LBA}) at LBAs ${t.entryLba}..${t.entryLba + arrayLbas - 1} lies outside the disk of ${totalLbas} LBAs`);
  }
  const entries = read(t.entryLba, arrayLbas, "partition entry array").subarray(0, arrayBytes);
  const entriesComputed = crc32(entries);
  if (entriesComputed !== t.entriesCrc) {
    throw new FormatError(
      `gpt: partition entry array CRC mismatch at LBA ${t.entryLba} (header at LBA ${lba}): stored ${hex32(t.entriesCrc)}, computed ${hex32(entriesComputed)}`,
    );
  }
  return { ...t, entries };
}

function decodeEntries(t: Table): GptPartition[] {
  const parts: GptPartition[] = [];
  for (let i = 0; i < t.entryCount; i++) {
    const at = i * t.entrySize;
    const typeGuid = guidFromBytes(t.entries, at + E_TYPE_GUID);
    if (typeGuid === ZERO_GUID) continue; // unused slot (5.3.3)
    const where = `entry ${i + 1} at LBA ${t.entryLba}`;
    const name = t.entries.toString("utf16le", at + E_NAME, at + E_NAME + E_NAME_BYTES);
    parts.push({
      index: i + 1,
      typeGuid,
      partGuid: guidFromBytes(t.entries, at + E_PART_GUID),
      firstLba: u64(t.entries, at + E_FIRST_LBA, `${where} starting_lba`),
      lastLba: u64(t.entries, at + E_LAST_LBA, `${where} ending_lba`),
      attributes: t.entries.readBigUInt64LE(at + E_ATTRIBUTES),
      name: name.includes("\0") ? name.slice(0, name.indexOf("\0")) : name,
    });
  }
  return parts;
}

/** Read a GPT through `readAt` from a disk of `sizeBytes`, checking both copies against each other. */
export function decodeGpt(readAt: ReadAt, sizeBytes: number, opts: DecodeGptOptions = {}): DecodedGpt {
  const sectorSize = opts.sectorSize ?? GPT_DEFAULTS.sectorSize;
  const strict = opts.strict ?? true;
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes % sectorSize !== 0 || sizeBytes < 3 * sectorSize) {
    throw new FormatError(`gpt: disk size ${sizeBytes} is not a multiple of ${sectorSize}-byte sectors large enough for a GPT`);
  }
  const totalLbas = sizeBytes / sectorSize;
  const lastLba = totalLbas - 1;
  const read: ReadLbas = (lba, count, what) => {
    const bytes = readAt(lba * sectorSize, count * sectorSize);
    if (bytes.length !== count * sectorSize) {
      throw new FormatError(`gpt: short read of ${what} at LBA ${lba}: wanted ${count * sectorSize} bytes, got ${bytes.length}`);
    }
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  };
  const problems = protectiveMbrProblems(read(0, 1, "protective MBR"));
  const attempt = (lba: number): Table | undefined => {
    try {
      return readTable(read, lba, totalLbas, sectorSize);
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      problems.push(e.message);
      return undefined;
    }
  };
  const primary = attempt(1);
  const backup = attempt(lastLba);
  if (primary && primary.alternateLba !== lastLba) {
    problems.push(`gpt: primary header at LBA 1 (offset ${H_ALTERNATE_LBA}) puts the backup at LBA ${primary.alternateLba}, but the last LBA is ${lastLba}`);
  }
  if (backup && backup.alternateLba !== 1) {
    problems.push(`gpt: backup header at LBA ${lastLba} (offset ${H_ALTERNATE_LBA}): alternate LBA stored ${backup.alternateLba}, expected 1`);
  }
  if (primary && backup) {
    for (const field of ["firstUsableLba", "lastUsableLba", "diskGuid", "entryCount", "entrySize", "entriesCrc"] as const) {
      if (primary[field] !== backup[field]) {
        problems.push(`gpt: backup header at LBA ${lastLba} disagrees with the primary on ${field}: backup ${backup[field]}, primary ${primary[field]}`);
      }
    }
    if (primary.entriesCrc === backup.entriesCrc && !primary.entries.equals(backup.entries)) {
      problems.push(`gpt: backup entry array at LBA ${backup.entryLba} differs from the primary at LBA ${primary.entryLba}`);
    }
  }
  const chosen = primary ?? (strict ? undefined : backup);
  if (!chosen) {
    const hint = backup ? `\n(the backup GPT at LBA ${lastLba} is intact; decoding from it needs { strict: false })` : "";
    throw new FormatError(problems.join("\n") + hint);
  }
  const disk: GptDisk = {
    sectorSize,
    sizeBytes,
    diskGuid: chosen.diskGuid,
    partitions: decodeEntries(chosen),
    entryCount: chosen.entryCount,
    entrySize: chosen.entrySize,
  };
  problems.push(...partitionProblems(disk.partitions, chosen, chosen.entryCount).map((p) => `gpt: ${p}`));
  if (strict && problems.length > 0) throw new FormatError(problems.join("\n"));
  const source = chosen === primary ? "primary" : "backup";
  return { disk, firstUsableLba: chosen.firstUsableLba, lastUsableLba: chosen.lastUsableLba, source, warnings: problems };
}
