// GPT decoding (UEFI 2.10, 5.3): read both headers and entry arrays, check every CRC and field,
// and that the two copies agree. Offsets and the shared partition rules live in gpt.ts.
import { crc32 } from "node:zlib";
import { FormatError } from "./format-error.ts";
import { ZERO_GUID, guidFromBytes } from "./guid.ts";
import { E_ATTRIBUTES, E_FIRST_LBA, E_LAST_LBA, E_NAME, E_NAME_BYTES, E_PART_GUID, E_TYPE_GUID, GPT_DEFAULTS, type GptDisk, type GptPartition, HEADER_SIZE, H_ALTERNATE_LBA, H_DISK_GUID, H_ENTRIES_CRC, H_ENTRY_COUNT, H_ENTRY_LBA, H_ENTRY_SIZE, H_FIRST_USABLE_LBA, H_HEADER_CRC, H_HEADER_SIZE, H_LAST_USABLE_LBA, H_MY_LBA, H_REVISION, H_SIGNATURE, MAX_ENTRY_COUNT, MAX_ENTRY_SIZE, MBR_RECORD_OFFSET, MBR_RECORD_SIZE, MBR_SIGNATURE, MBR_SIGNATURE_OFFSET, MIN_ENTRY_SIZE, PMBR_OS_TYPE, REC_OS_TYPE, REVISION, SIGNATURE, hex32, partitionProblems } from "./gpt.ts";

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
  // Both fields are checked before their product sizes a read (see MAX_ENTRY_COUNT).
  if (t.entryCount > MAX_ENTRY_COUNT) {
    throw new FormatError(`gpt: too many partition entries ${at} (offset ${H_ENTRY_COUNT}): stored ${t.entryCount}, icos reads at most ${MAX_ENTRY_COUNT}`);
  }
  if (t.entrySize < MIN_ENTRY_SIZE || t.entrySize > MAX_ENTRY_SIZE || t.entrySize % 8 !== 0) {
    throw new FormatError(`gpt: bad partition entry size ${at} (offset ${H_ENTRY_SIZE}): stored ${t.entrySize}, expected ${MIN_ENTRY_SIZE}..${MAX_ENTRY_SIZE} and a multiple of 8`);
  }
  const arrayBytes = t.entryCount * t.entrySize;
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
