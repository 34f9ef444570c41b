// Reproducible vfat images (ESP, grub partition, config media) with mtools, never a mount
// (host-recipes.md, "ESP and grub partition"). What makes the bytes repeatable:
// - mkfs.vfat --invariant, then -i: --invariant also fixes the volume id, so -i must come after;
// - every time mtools writes is SOURCE_DATE_EPOCH. Not `mcopy -m`: it keeps the source's mtime,
//   which beats SOURCE_DATE_EPOCH. FAT stores local time, so TZ=UTC;
// - directories and files are created in one sorted order (directory entry order = creation order).
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, posix, resolve } from "node:path";
import { ToolFailedError, UserError } from "../errors.ts";
import { run } from "../exec.ts";
import { listTree, writeAtomically } from "../fs/files.ts";

export interface VfatFile {
  /** A regular file on the host. */
  src: string;
  /** Path inside the filesystem, '/'-separated, e.g. "EFI/BOOT/BOOTX64.EFI". */
  dest: string;
}

export interface VfatOptions {
  out: string;
  /** A multiple of 1024. */
  sizeBytes: number;
  /** 1-11 characters: A-Z, 0-9, space, '_' or '-'. */
  label: string;
  /** 8 hex digits, e.g. "1CE50001". */
  volumeId: string;
  /** A directory whose contents are copied, or a list of files. */
  files: string | readonly VfatFile[];
  /** Unix seconds, 1980 or later (the FAT epoch): every file and directory time. */
  sourceDateEpoch: number;
  fatSize?: 12 | 16 | 32;
}

const FAT_EPOCH = 315532800; // 1980-01-01T00:00:00Z
const FAT_END = 4354819200; // 2108-01-01T00:00:00Z

function mtoolsEnv(sourceDateEpoch?: number): Record<string, string> {
  const env: Record<string, string> = { MTOOLS_SKIP_CHECK: "1", TZ: "UTC" };
  if (sourceDateEpoch !== undefined) env.SOURCE_DATE_EPOCH = String(sourceDateEpoch);
  return env;
}

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

function validate(o: VfatOptions): void {
  const where = `vfat image ${o.out}`;
  if (!/^[A-Z0-9 _-]{1,11}$/.test(o.label)) {
    throw new UserError(`${where}: bad label "${o.label}"`, "a vfat label is 1-11 characters of A-Z, 0-9, space, '_' or '-' (upper case)");
  }
  if (!/^[0-9A-Fa-f]{8}$/.test(o.volumeId)) throw new UserError(`${where}: volumeId must be 8 hex digits, got "${o.volumeId}"`);
  if (!Number.isSafeInteger(o.sizeBytes) || o.sizeBytes <= 0 || o.sizeBytes % 1024 !== 0) {
    throw new UserError(`${where}: sizeBytes must be a positive multiple of 1024, got ${o.sizeBytes}`);
  }
  if (!Number.isInteger(o.sourceDateEpoch) || o.sourceDateEpoch < FAT_EPOCH || o.sourceDateEpoch >= FAT_END) {
    throw new UserError(`${where}: sourceDateEpoch ${o.sourceDateEpoch} is outside what FAT can store (1980-2107)`);
  }
}

async function resolveFiles(o: VfatOptions): Promise<{ files: VfatFile[]; dirs: string[] }> {
  const dirs = new Set<string>();
  let files: VfatFile[];
  if (typeof o.files === "string") {
    files = [];
    for (const e of await listTree(o.files)) {
      if (e.stat.isDirectory()) dirs.add(e.path);
      else if (e.stat.isFile()) files.push({ src: e.abs, dest: e.path });
      else throw new UserError(`vfat image ${o.out}: ${e.abs} is not a regular file or directory`, "FAT has no symlinks or special files");
    }
  } else files = [...o.files];
  const seen = new Map<string, string>();
  for (const f of files) {
    const parts = f.dest.split("/");
    if (parts.some((c) => !c || c === "." || c === ".." || /[\x00-\x1f"*:<>?\\|]/.test(c))) {
      throw new UserError(`vfat image ${o.out}: bad path "${f.dest}"`, 'use a relative path without "." or "..", and none of "*:<>?\\|');
    }
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  // FAT names are case-insensitive: two names differing only in case would collide.
  for (const p of [...dirs, ...files.map((f) => f.dest)]) {
    const key = p.toUpperCase();
    const prev = seen.get(key);
    if (prev !== undefined) throw new UserError(`vfat image ${o.out}: "${prev}" and "${p}" are the same name on FAT`);
    seen.set(key, p);
  }
  const bytewise = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
  return { files: files.sort((a, b) => bytewise(a.dest, b.dest)), dirs: [...dirs].sort(bytewise) };
}

export async function buildVfat(o: VfatOptions): Promise<void> {
  validate(o);
  const { files, dirs } = await resolveFiles(o);
  let dataBytes = 0;
  for (const f of files) {
    const st = await stat(f.src).catch(() => undefined);
    if (!st?.isFile()) throw new UserError(`vfat image ${o.out}: source ${f.src} (for ${f.dest}) is not a readable regular file`);
    dataBytes += st.size;
  }
  const tooSmall = (): UserError =>
    new UserError(`vfat image ${o.out}: ${files.length} files (${mib(dataBytes)}) do not fit in ${mib(o.sizeBytes)}`, "raise the partition size");
  if (dataBytes > o.sizeBytes) throw tooSmall();

  const env = mtoolsEnv(o.sourceDateEpoch);
  const what = `(label ${o.label}, ${o.out})`;
  await writeAtomically(o.out, async (tmp) => {
    const mkfs = ["-C", "--invariant", "-i", o.volumeId.toUpperCase(), "-n", o.label];
    if (o.fatSize) mkfs.push("-F", String(o.fatSize));
    await run("mkfs.vfat", [...mkfs, tmp, String(o.sizeBytes / 1024)], { env, context: `mkfs.vfat ${what}` });
    if (dirs.length) await run("mmd", ["-i", tmp, ...dirs.map((d) => `::/${d}`)], { env, context: `mmd ${what}` });
    try {
      for (const { srcs, target } of batches(files)) {
        // Absolute sources: mtools would read "a:b" as drive a.
        await run("mcopy", ["-Q", "-i", tmp, ...srcs.map((s) => resolve(s)), target], { env, context: `mcopy to ${target} ${what}` });
      }
    } catch (e) {
      if (e instanceof ToolFailedError && /Disk full|No free cluster/i.test(e.stderrTail)) throw tooSmall();
      throw e;
    }
    await run("fsck.vfat", ["-n", tmp], { context: `fsck.vfat check ${what}` });
  });
}

/**
 * The mcopy calls, in sorted order: one per directory, since several sources keep their base
 * names (not one process per file); a file stored under another name gets a call of its own.
 */
function batches(files: readonly VfatFile[]): { srcs: string[]; target: string }[] {
  const out: { srcs: string[]; target: string }[] = [];
  const byTarget = new Map<string, string[]>();
  for (const f of files) {
    if (basename(f.src) !== posix.basename(f.dest)) {
      out.push({ srcs: [f.src], target: `::/${f.dest}` });
      continue;
    }
    const dir = posix.dirname(f.dest);
    const target = dir === "." ? "::/" : `::/${dir}/`;
    let srcs = byTarget.get(target);
    if (!srcs) {
      srcs = [];
      byTarget.set(target, srcs);
      out.push({ srcs, target });
    }
    srcs.push(f.src);
  }
  return out;
}

function imageSpec(image: string, offsetBytes: number): string {
  if (!Number.isSafeInteger(offsetBytes) || offsetBytes < 0) throw new UserError(`vfat in ${image}: bad offset ${offsetBytes}`);
  return `${image}@@${offsetBytes}`;
}

/**
 * Write one file into the vfat filesystem that starts `offsetBytes` into `image` (a whole disk),
 * replacing it if present. In place, not atomic: FAT has no way to swap a file atomically.
 */
export async function vfatPutFile(image: string, offsetBytes: number, src: string, destPath: string, opts: { sourceDateEpoch?: number } = {}): Promise<void> {
  const dest = `::/${destPath.replace(/^\/+/, "")}`;
  await run("mcopy", ["-D", "o", "-i", imageSpec(image, offsetBytes), src, dest], {
    env: mtoolsEnv(opts.sourceDateEpoch),
    context: `write ${dest} into the vfat at offset ${offsetBytes} of ${image}`,
  });
}

/** Read one file out of the vfat filesystem at `offsetBytes` in `image`. */
export async function vfatReadFile(image: string, offsetBytes: number, path: string): Promise<Buffer> {
  // Through a temp file, not stdout: run() decodes stdout as UTF-8, which would mangle binaries.
  const dir = await mkdtemp(join(tmpdir(), "icos-vfat-"));
  try {
    const file = join(dir, "out");
    await run("mcopy", ["-i", imageSpec(image, offsetBytes), `::/${path.replace(/^\/+/, "")}`, file], {
      env: mtoolsEnv(),
      context: `read /${path} from the vfat at offset ${offsetBytes} of ${image}`,
    });
    return await readFile(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
