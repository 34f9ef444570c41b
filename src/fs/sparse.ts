// Sparse files without reading their holes: the data extents of a file (SEEK_DATA/SEEK_HOLE, asked
// through xfs_io, as node has no lseek), a digest that costs nothing for holes, and a copy of only
// the data. Disk and partition images are GiB apparent and a few hundred MiB allocated; every cost
// here grows with the allocated bytes, never with the apparent size.
import { createHash } from "node:crypto";
import { open, stat, type FileHandle } from "node:fs/promises";
import { run } from "../exec.ts";

export interface Extent {
  offset: number;
  length: number;
}

/**
 * The data extents of `path`, in order: everything outside them reads as zeros. Asked with
 * SEEK_DATA/SEEK_HOLE, so a file system without holes reports the whole file as data.
 */
export async function dataExtents(path: string): Promise<Extent[]> {
  const size = (await stat(path)).size;
  if (size === 0) return [];
  const { stdout } = await run("xfs_io", ["-r", "-c", "seek -a -r 0", path], { context: `map the data of ${path}` });
  // "Whence Result" then one line per region start: DATA <offset> or HOLE <offset> (EOF: none left).
  const marks: { data: boolean; at: number }[] = [];
  for (const line of stdout.split("\n").slice(1)) {
    const m = /^(DATA|HOLE)\s+(\d+|EOF)$/.exec(line.trim());
    if (m && m[2] !== "EOF") marks.push({ data: m[1] === "DATA", at: Number(m[2]) });
  }
  const extents: Extent[] = [];
  marks.forEach((m, i) => {
    const end = Math.min(marks[i + 1]?.at ?? size, size);
    if (m.data && end > m.at) extents.push({ offset: m.at, length: end - m.at });
  });
  return extents;
}

/** The block size of blockSha256: 1 MiB, the alignment of every partition icos lays out. */
export const DIGEST_BLOCK_BYTES = 1 << 20;

/** How a user checks a block digest with coreutils alone (it reads the holes, so it is slower). */
export const BLOCK_DIGEST_CHECK = "split -b 1M --filter='sha256sum | cut -c1-64' FILE | sha256sum";

const zeroBlockHex = createHash("sha256").update(Buffer.alloc(DIGEST_BLOCK_BYTES)).digest("hex");

/**
 * sha256 over the list of each 1 MiB block's sha256 (lower-case hex, one per line; the last block
 * may be short): the same for a file whether its zeros are holes or written, and computed by
 * reading only the blocks that hold data. A hole block's hash is a constant.
 */
export async function blockSha256(path: string): Promise<string> {
  const size = (await stat(path)).size;
  const extents = await dataExtents(path);
  const outer = createHash("sha256");
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(DIGEST_BLOCK_BYTES);
    let next = 0; // index into extents
    for (let at = 0; at < size; at += DIGEST_BLOCK_BYTES) {
      const len = Math.min(DIGEST_BLOCK_BYTES, size - at);
      while (next < extents.length && extents[next]!.offset + extents[next]!.length <= at) next++;
      const e = extents[next];
      const hasData = e !== undefined && e.offset < at + len;
      if (!hasData && len === DIGEST_BLOCK_BYTES) {
        outer.update(zeroBlockHex + "\n");
        continue;
      }
      const block = buf.subarray(0, len);
      if (hasData) await readFull(fh, block, at);
      else block.fill(0);
      outer.update(createHash("sha256").update(block).digest("hex") + "\n");
    }
  } finally {
    await fh.close();
  }
  return outer.digest("hex");
}

export async function readFull(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  for (let got = 0; got < buf.length; ) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) {
      buf.fill(0, got);
      return;
    }
    got += bytesRead;
  }
}

const COPY_CHUNK_BYTES = 4 << 20;
// Zeros inside data extents (a journal, zeroed tables) are not written either: runs of this many
// zero bytes stay holes in the copy. A multiple of every filesystem block size.
const ZERO_RUN_BYTES = 64 * 1024;
const ZEROS = Buffer.alloc(ZERO_RUN_BYTES);

/** Write all of `bytes` at `position` (a write may take fewer bytes than asked). */
export async function writeAll(out: FileHandle, bytes: Buffer, position: number): Promise<void> {
  for (let w = 0; w < bytes.length; ) w += (await out.write(bytes, w, bytes.length - w, position + w)).bytesWritten;
}

/** Write `chunk` at `position`, skipping its all-zero 64 KiB runs (coalescing the rest). */
async function writeNonZero(out: FileHandle, chunk: Buffer, position: number): Promise<void> {
  let runStart = -1;
  for (let at = 0; at < chunk.length; at += ZERO_RUN_BYTES) {
    const end = Math.min(at + ZERO_RUN_BYTES, chunk.length);
    const zero = chunk.subarray(at, end).equals(ZEROS.subarray(0, end - at));
    if (!zero && runStart < 0) runStart = at;
    if (zero && runStart >= 0) {
      await writeAll(out, chunk.subarray(runStart, at), position + runStart);
      runStart = -1;
    }
  }
  if (runStart >= 0) await writeAll(out, chunk.subarray(runStart), position + runStart);
}

/**
 * Copy the data extents of `source` into `out` at `offsetBytes`; holes are skipped, so `out` must
 * read as zeros there already (a fresh sparse file). Returns the bytes copied.
 */
export async function copyDataExtents(out: FileHandle, source: string, offsetBytes: number, onBytes?: (done: number) => void): Promise<number> {
  const src = await open(source, "r");
  let done = 0;
  try {
    const buf = Buffer.alloc(COPY_CHUNK_BYTES);
    for (const e of await dataExtents(source)) {
      for (let at = e.offset; at < e.offset + e.length; ) {
        const n = Math.min(COPY_CHUNK_BYTES, e.offset + e.length - at);
        const chunk = buf.subarray(0, n);
        await readFull(src, chunk, at);
        await writeNonZero(out, chunk, offsetBytes + at);
        at += n;
        done += n;
        onBytes?.(done);
      }
    }
  } finally {
    await src.close();
  }
  return done;
}

/** Allocated bytes of a file (its blocks), which is what copying and hashing it costs. */
export async function allocatedBytes(path: string): Promise<number> {
  return (await stat(path)).blocks * 512;
}
