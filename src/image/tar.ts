// Deterministic tar archives of build artifacts: names sorted bytewise, owner 0/0 with empty
// user/group names (numeric only, nothing resolved on extraction), one fixed mtime, and large
// zero runs stored as POSIX "GNU sparse 1.0" members. Data is streamed in chunks, never held whole.
import { createWriteStream } from "node:fs";
import { open, readlink, rm, type FileHandle } from "node:fs/promises";
import { posix } from "node:path";
import { pipeline } from "node:stream/promises";
import { pack, type Pack } from "tar-stream";
import { UserError } from "../errors.ts";
import { run } from "../exec.ts";
import { listTree, writeAtomically, type TreeEntry } from "../fs/files.ts";
import { dataExtents, type Extent } from "../fs/sparse.ts";

export type TarEntry =
  | { path: string; type: "file"; source: string; mode?: number }
  | { path: string; type: "directory"; mode?: number }
  | { path: string; type: "symlink"; target: string };

export interface WriteTarOptions {
  out: string;
  /** Exactly one of `entries` and `fromDir`. Entries are sorted here; the given order is ignored. */
  entries?: readonly TarEntry[];
  fromDir?: string;
  /** Unix seconds, written as every member's mtime. */
  mtime: number;
  compress?: "zstd" | "none";
  zstdLevel?: number;
  /** Store files of 1 MiB or more that contain all-zero blocks as GNU sparse 1.0 members. */
  sparse: boolean;
}

// Hole granularity: an all-zero, 4096-aligned block is a hole, whatever the host filesystem says
// (no SEEK_HOLE), so the archive does not depend on where the input sits.
const SPARSE_BLOCK = 4096;
// Smaller files are stored whole: a sparse member saves little there, and readers without
// sparse support (tar-stream's extract, for one) are only confronted with disk images.
const SPARSE_MIN_BYTES = 1 << 20;
const CHUNK = 1 << 20; // a multiple of SPARSE_BLOCK
const ZERO = Buffer.alloc(CHUNK);


export async function writeTar(opts: WriteTarOptions): Promise<void> {
  const level = opts.zstdLevel ?? 10;
  if (!Number.isInteger(level) || level < 1 || level > 19) throw new UserError(`tar ${opts.out}: zstdLevel must be 1-19, got ${level}`);
  if (!Number.isInteger(opts.mtime) || opts.mtime < 0) throw new UserError(`tar ${opts.out}: mtime must be whole Unix seconds, got ${opts.mtime}`);
  const entries = await resolveEntries(opts);
  await writeAtomically(opts.out, async (tmp) => {
    try {
      await writeArchive(tmp, entries, opts, level);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOSPC") throw new UserError(`tar ${opts.out}: no space left on the device`, "free some space, or point ICOS_CACHE_DIR / --output-dir at a larger file system");
      throw e;
    }
  });
}

/** The archive into `tmp` (writeAtomically's temp file): plain, or a plain temp then zstd. */
async function writeArchive(tmp: string, entries: TarEntry[], opts: WriteTarOptions, level: number): Promise<void> {
  if (opts.compress !== "zstd") return writeTarFile(tmp, entries, opts);
  const plain = `${tmp}.tar`;
  try {
    await writeTarFile(plain, entries, opts);
    // --long=27 (128 MiB window) is the largest a decoder accepts without being told, so
    // `zstd -d` and `tar --zstd -x` work with no flags. The multi-threaded output depends
    // on the level and window only, not on the thread count, so -T0 stays reproducible.
    await run("zstd", ["-q", "-T0", `-${level}`, "--long=27", "-o", tmp, plain], { context: `zstd (${opts.out})` });
  } finally {
    await rm(plain, { force: true });
  }
}

async function resolveEntries(opts: WriteTarOptions): Promise<TarEntry[]> {
  if ((opts.entries === undefined) === (opts.fromDir === undefined)) {
    throw new UserError(`tar ${opts.out}: give exactly one of entries and fromDir`);
  }
  const entries = opts.entries ? [...opts.entries] : await Promise.all((await listTree(opts.fromDir!)).map(fromTree));
  const seen = new Set<string>();
  for (const e of entries) {
    if (!e.path || e.path.startsWith("/") || e.path.split("/").some((c) => c === ".." || c === "." || c === "")) {
      throw new UserError(`tar ${opts.out}: bad member path "${e.path}"`, "use a relative path without '.', '..' or empty components");
    }
    if (seen.has(e.path)) throw new UserError(`tar ${opts.out}: member "${e.path}" given twice`);
    seen.add(e.path);
  }
  return entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

async function fromTree({ path, abs, stat: st }: TreeEntry): Promise<TarEntry> {
  if (st.isFile()) return { path, type: "file", source: abs, mode: st.mode & 0o7777 };
  if (st.isDirectory()) return { path, type: "directory", mode: st.mode & 0o7777 };
  if (st.isSymbolicLink()) return { path, type: "symlink", target: await readlink(abs) };
  throw new UserError(`tar: ${abs} is not a regular file, directory or symlink`, "only those can go into an artifact archive");
}

async function writeTarFile(file: string, entries: readonly TarEntry[], opts: WriteTarOptions): Promise<void> {
  const p = pack();
  const done = pipeline(p, createWriteStream(file, { flags: "wx" }));
  const produce = async (): Promise<void> => {
    const mtime = new Date(opts.mtime * 1000);
    for (const e of entries) await addEntry(p, e, mtime, opts.sparse);
    p.finalize();
  };
  try {
    await Promise.all([done, produce()]);
  } catch (e) {
    p.destroy();
    throw e;
  }
}

type Header = Parameters<Pack["entry"]>[0];

/** A member being written: `done` settles when tar-stream has taken all of it (or failed). */
type Member = { sink: ReturnType<Pack["entry"]>; done: Promise<void> };

function member(p: Pack, header: Header): Member {
  let sink!: Member["sink"];
  const done = new Promise<void>((resolve, reject) => {
    sink = p.entry(header, (err) => (err ? reject(err) : resolve()));
  });
  done.catch(() => undefined); // awaited later; this keeps an early failure from being "unhandled"
  // When the archive fails (e.g. ENOSPC), tar-stream destroys the member's sink, which then emits
  // 'error'; the failure reaches the caller through the pipeline, so the event needs no handling.
  sink.on("error", () => undefined);
  return { sink, done };
}

async function addEntry(p: Pack, e: TarEntry, mtime: Date, sparse: boolean): Promise<void> {
  const base = { uid: 0, gid: 0, uname: "", gname: "", mtime };
  if (e.type === "directory") return member(p, { ...base, name: `${e.path}/`, type: "directory", mode: 0o40000 | ((e.mode ?? 0o755) & 0o7777) }).done;
  if (e.type === "symlink") return member(p, { ...base, name: e.path, type: "symlink", linkname: e.target, mode: 0o120777 }).done;
  const fh = await open(e.source, "r");
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new UserError(`tar: ${e.source} (member ${e.path}) is not a regular file`);
    const mode = 0o100000 | ((e.mode ?? st.mode) & 0o7777);
    const regions = sparse && st.size >= SPARSE_MIN_BYTES ? await dataRegions(fh, st.size, await dataExtents(e.source)) : [{ offset: 0, length: st.size }];
    const dataBytes = regions.reduce((n, r) => n + r.length, 0);
    if (dataBytes === st.size) {
      const m = member(p, { ...base, name: e.path, type: "file", mode, size: st.size });
      return await stream(m, fh, [{ offset: 0, length: st.size }], e.source);
    }
    const map = sparseMap(regions);
    const header: Header = {
      ...base,
      // GNU tar's 1.0 layout: a reader without sparse support extracts the raw member under this
      // name instead of clobbering the real file with map + data.
      name: posix.join(posix.dirname(e.path), "GNUSparseFile.0", posix.basename(e.path)),
      type: "file",
      mode,
      size: map.length + dataBytes,
      pax: {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": e.path,
        "GNU.sparse.realsize": String(st.size),
      },
    };
    const m = member(p, header);
    await put(m, map);
    await stream(m, fh, regions, e.source);
  } finally {
    await fh.close();
  }
}

export type Region = { offset: number; length: number };

/**
 * The data regions of a file: every 4096-aligned block that is not all zeros, merged into runs.
 * A file that ends in a hole gets a final zero-length region at its size, as GNU tar writes it.
 * Only the file's data extents (SEEK_DATA, `extents`) are read: a hole is zeros by definition, so
 * the result is the same as scanning every block, at the cost of the allocated bytes.
 */
export async function dataRegions(fh: FileHandle, size: number, extents: readonly Extent[] = [{ offset: 0, length: size }]): Promise<Region[]> {
  const regions: Region[] = [];
  let cur: Region | undefined;
  const whole = Buffer.allocUnsafe(CHUNK); // reused: nothing keeps a reference while scanning
  let scanned = 0; // the end of the last range read
  for (const e of extents) {
    // Whole blocks: from the block holding the extent's start to the one holding its end.
    const from = Math.max(Math.floor(e.offset / SPARSE_BLOCK) * SPARSE_BLOCK, scanned);
    const to = Math.min(Math.ceil((e.offset + e.length) / SPARSE_BLOCK) * SPARSE_BLOCK, size);
    if (from > scanned) cur = undefined; // a hole lies between
    for (let pos = from; pos < to; pos += CHUNK) {
      const buf = whole.subarray(0, Math.min(CHUNK, to - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead !== buf.length) throw new UserError(`tar: a file shrank while being archived (short read at offset ${pos})`);
      if (buf.equals(ZERO.subarray(0, buf.length))) {
        cur = undefined; // zeros the file system keeps as data: skip the per-block checks
        continue;
      }
      for (let i = 0; i < buf.length; i += SPARSE_BLOCK) {
        const block = buf.subarray(i, i + SPARSE_BLOCK);
        if (block.equals(ZERO.subarray(0, block.length))) cur = undefined;
        else if (cur) cur.length += block.length;
        else regions.push((cur = { offset: pos + i, length: block.length }));
      }
    }
    scanned = Math.max(scanned, to);
  }
  const last = regions.at(-1);
  if (!last || last.offset + last.length < size) regions.push({ offset: size, length: 0 });
  return regions;
}

/** The sparse map that starts a 1.0 member: count, then offset and length, one per line, padded to 512. */
export function sparseMap(regions: readonly Region[]): Buffer {
  const text = [regions.length, ...regions.flatMap((r) => [r.offset, r.length])].join("\n") + "\n";
  const buf = Buffer.alloc(Math.ceil(text.length / 512) * 512);
  buf.write(text, "ascii");
  return buf;
}

async function stream(m: Member, fh: FileHandle, regions: readonly Region[], source: string): Promise<void> {
  for (const r of regions) {
    for (let pos = r.offset; pos < r.offset + r.length; pos += CHUNK) {
      // A fresh buffer per chunk: the sink may still hold the previous one.
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, r.offset + r.length - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead !== buf.length) throw new UserError(`tar: ${source} shrank while being archived`);
      await put(m, buf);
    }
  }
  m.sink.end(null);
  await m.done;
}

async function put(m: Member, chunk: Buffer): Promise<void> {
  if (m.sink.write(chunk)) return;
  // Wait for room, or for the member to fail (e.g. the output disk is full).
  await Promise.race([new Promise<void>((resolve) => m.sink.once("drain", () => resolve())), m.done]);
}
