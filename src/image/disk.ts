// Whole-disk images: a sparse file holding a GPT (from src/formats/gpt.ts) and each partition's
// image copied in at its offset. Written to a temporary name and renamed, so a reader never sees
// a half-written disk. Only the sources' data extents are read and only their non-zero runs are
// written (src/fs/sparse.ts), so the cost follows the allocated bytes, not the disk's size.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import { UserError } from "../errors.ts";
import { FormatError } from "../formats/format-error.ts";
import { decodeGpt, type DecodeGptOptions, type DecodedGpt } from "../formats/gpt-decode.ts";
import { encodeGpt, type GptDisk, type GptPartition } from "../formats/gpt.ts";
import { fileKind, inputFile } from "../user-files.ts";
import { writeAtomically } from "../fs/files.ts";
import { copyDataExtents, writeAll } from "../fs/sparse.ts";

export interface PartitionSource {
  /** The GPT slot (GptPartition.index) to fill. */
  index: number;
  /** A file holding the partition's bytes (a filesystem image); none leaves the partition zero. */
  source?: string;
}

const mib = (bytes: number) => `${(bytes / (1 << 20)).toFixed(1)} MiB`;

interface Copy {
  source: string;
  offsetBytes: number;
}

/** Check every source before any file is created: each names a partition, exists and fits. */
async function planCopies(path: string, disk: GptDisk, sources: readonly PartitionSource[]): Promise<Copy[]> {
  const copies: Copy[] = [];
  const seen = new Set<number>();
  for (const { index, source } of sources) {
    const part = disk.partitions.find((p) => p.index === index);
    if (!part) throw new UserError(`disk image ${path}: no partition ${index} in the GPT for ${source ?? "an empty source"}`);
    if (seen.has(index)) throw new UserError(`disk image ${path}: partition ${label(part)} given two sources`);
    seen.add(index);
    if (source === undefined) continue;
    const st = await stat(source).catch(() => undefined);
    if (!st?.isFile()) throw new UserError(`disk image ${path}: partition ${label(part)}: image ${source} is not a regular file`);
    const partBytes = (part.lastLba - part.firstLba + 1) * disk.sectorSize;
    if (st.size > partBytes) {
      throw new UserError(
        `disk image ${path}: partition ${label(part)}: image ${source} is ${st.size} bytes (${mib(st.size)}), ` +
          `larger than the partition's ${partBytes} bytes (${mib(partBytes)})`,
        "grow the partition in the layout, or make the filesystem smaller",
      );
    }
    copies.push({ source, offsetBytes: part.firstLba * disk.sectorSize });
  }
  return copies;
}

const label = (p: GptPartition) => (p.name ? `${p.index} (${p.name})` : `${p.index}`);

/**
 * Write a disk image at `path`: a sparse file of disk.sizeBytes with the GPT and each source at
 * its partition's offset. Same inputs, same bytes. Replaces `path` atomically; on any error
 * nothing is left behind (neither `path` nor the temporary file).
 */
export async function createDiskImage(path: string, disk: GptDisk, partitions: readonly PartitionSource[]): Promise<void> {
  const regions = encodeGpt(disk); // validates the table before touching the file system
  const copies = await planCopies(path, disk, partitions);
  await writeAtomically(path, async (tmp) => {
    const fh = await open(tmp, "w");
    try {
      await fh.truncate(disk.sizeBytes);
      for (const r of regions) await writeAll(fh, r.bytes, r.offsetBytes);
      for (const c of copies) await copyDataExtents(fh, c.source, c.offsetBytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
  });
}

/**
 * Read the GPT of a disk image file (a regular file: block devices report size 0 to fstat).
 * Errors are FormatErrors prefixed with the path; see DecodeGptOptions for `strict`. Anything but
 * a readable regular file is a UserError; the decoder bounds what it reads by the header's fields.
 */
export function readGpt(path: string, opts: DecodeGptOptions = {}): DecodedGpt {
  inputFile(path);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) throw new UserError(`${path}: is ${fileKind(fstatSync(fd))}, not a regular file`);
    const readAt = (offset: number, length: number): Buffer => {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, buf, got, length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      return buf.subarray(0, got);
    };
    return decodeGpt(readAt, fstatSync(fd).size, opts);
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(`${path}: ${e.message}`);
    throw e;
  } finally {
    closeSync(fd);
  }
}
