// Paths a user hands to icos (arguments and flags), checked before anything opens them: an input
// must be a readable regular file (a FIFO would block the open, a directory or device fails later
// with a stack trace), an output must be a regular file or not exist yet (outputs are written to a
// temporary file and renamed over the target, which would replace a device node or FIFO itself).
// Every problem is a UserError (exit 2) that starts with the caller's label: the flag and path,
// e.g. `--config node.json: is a directory, not a regular file`.
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from "node:fs";
import { dirname } from "node:path";
import { UserError } from "./errors.ts";

/** What a non-regular file is, for messages ("a directory", "a named pipe (FIFO)", ...). */
export function fileKind(st: Stats): string {
  if (st.isFile()) return "a regular file";
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

function accessProblem(e: unknown): string {
  switch (errno(e)) {
    case "ENOENT":
    case "ENOTDIR":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    default:
      return (e as Error).message;
  }
}

export interface InputFileOptions {
  /** Shown with every problem; the default hint depends on the problem. */
  hint?: string;
  /** Refuse files larger than this many bytes (checked before anything is read). */
  maxBytes?: number;
}

const MiB = 1 << 20;
const sizeText = (n: number) => `${n} bytes` + (n >= MiB ? ` (${(n / MiB).toFixed(1)} MiB)` : "");

/**
 * Stat, then open non-blocking (a FIFO swapped in after the stat cannot hang us) and fstat again:
 * the descriptor of a readable regular file, which the caller closes.
 */
function openInput(path: string, label: string, opts: InputFileOptions): { fd: number; st: Stats } {
  const refuse = (st: Stats) => {
    const hint = st.isDirectory() ? "name a file, not a directory" : "icos reads inputs as regular files; save the data to a file first";
    return new UserError(`${label}: is ${fileKind(st)}, not a regular file`, opts.hint ?? hint);
  };
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    const problem = accessProblem(e);
    throw new UserError(`${label}: ${problem}`, problem === "permission denied" ? "check the permissions of the directories on its path" : opts.hint);
  }
  if (!st.isFile()) throw refuse(st);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const problem = accessProblem(e);
    throw new UserError(`${label}: cannot read it: ${problem}`, problem === "permission denied" ? "check the file's permissions (or run icos as a user who may read it)" : opts.hint);
  }
  try {
    st = fstatSync(fd);
    if (!st.isFile()) throw refuse(st);
    if (opts.maxBytes !== undefined && st.size > opts.maxBytes) throw tooLarge(label, `is ${sizeText(st.size)}`, opts);
    return { fd, st };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

const tooLarge = (label: string, what: string, opts: InputFileOptions & { maxBytes?: number }) =>
  new UserError(`${label}: ${what}; icos reads at most ${sizeText(opts.maxBytes ?? 0)} from such a file`, opts.hint ?? "is this the right file?");

/**
 * Checks that `path` is a regular file this process can read (and, with maxBytes, not larger)
 * and returns its stat. `label` starts every message: a flag and the path ("--to x.tar.zst"), or
 * just the path.
 */
export function inputFile(path: string, label: string = path, opts: InputFileOptions = {}): Stats {
  const { fd, st } = openInput(path, label, opts);
  closeSync(fd);
  return st;
}

/**
 * The text of a checked input file (see inputFile), read through the checked descriptor and never
 * more than `maxBytes`: a file that grows after the check is refused, not read whole.
 */
export function readInputText(path: string, label: string, opts: InputFileOptions & { maxBytes: number }): string {
  const { fd } = openInput(path, label, opts);
  try {
    const buf = Buffer.alloc(opts.maxBytes + 1);
    let got = 0;
    for (let n; got < buf.length && (n = readSync(fd, buf, got, buf.length - got, null)) > 0; ) got += n;
    if (got > opts.maxBytes) throw tooLarge(label, `is more than ${sizeText(opts.maxBytes)}`, opts);
    return buf.toString("utf8", 0, got);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${label}: cannot read it: ${accessProblem(e)}`, opts.hint);
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks an output target: if it exists it must be a regular file (or a symlink to one), since
 * outputs replace their target by renaming a new file over it: a directory, device node, FIFO or
 * socket there is refused rather than replaced.
 */
export function outputTarget(path: string, label: string = path, hint?: string): void {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    if (errno(e) === "ENOENT") return; // a new file (or a dangling symlink, which rename replaces)
    throw new UserError(`${label}: ${accessProblem(e)}`, hint);
  }
  if (!st.isFile()) {
    throw new UserError(
      `${label}: is ${fileKind(st)}; icos writes its output to a new file and renames it over the target, so it must be a regular file or not exist`,
      hint ?? (st.isDirectory() ? "name the file to write inside it, e.g. DIR/out.img" : "name a regular file to write"),
    );
  }
}

/** outputTarget, plus: the directory it goes into exists. For the files a user names with --out. */
export function outputFile(path: string, label: string = path, hint?: string): void {
  const dir = dirname(path);
  let st: Stats | undefined;
  try {
    st = statSync(dir);
  } catch (e) {
    if (errno(e) !== "ENOENT" && errno(e) !== "ENOTDIR") throw new UserError(`${label}: directory ${dir}: ${accessProblem(e)}`, hint);
  }
  if (!st) throw new UserError(`${label}: the directory ${dir} does not exist`, hint ?? `create it first (mkdir -p ${dir})`);
  if (!st.isDirectory()) throw new UserError(`${label}: ${dir} is ${fileKind(st)}, not a directory`, hint);
  outputTarget(path, label, hint);
}

/** A directory a command writes files into (created if missing): anything else there is refused. */
export function outputDirectory(path: string, label: string = path, hint?: string): void {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    if (errno(e) === "ENOENT") return;
    throw new UserError(`${label}: ${accessProblem(e)}`, hint);
  }
  if (!st.isDirectory()) throw new UserError(`${label}: is ${fileKind(st)}, not a directory`, hint ?? "name a directory (it is created if missing)");
}
