// File helpers every layer shares (ground floor): a sorted tree listing, and atomic writes.
import { randomBytes } from "node:crypto";
import type { Stats } from "node:fs";
import { lstat, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { outputTarget } from "../user-files.ts";

export interface TreeEntry {
  /** Relative to the root, '/'-separated, no leading "./". */
  path: string;
  abs: string;
  stat: Stats;
}

/** Every entry below `root` (not following symlinks), sorted bytewise by path. */
export async function listTree(root: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    const names = await readdir(join(root, rel));
    // lstat a directory's entries together: one at a time is most of the time on a large tree.
    const found = await Promise.all(
      names.map(async (name) => {
        const path = rel ? `${rel}/${name}` : name;
        const abs = join(root, path);
        return { path, abs, stat: await lstat(abs) };
      }),
    );
    out.push(...found);
    await Promise.all(found.filter((e) => e.stat.isDirectory()).map((e) => walk(e.path)));
  };
  await walk("");
  const keyed = out.map((e) => ({ e, key: Buffer.from(e.path) }));
  return keyed.sort((a, b) => Buffer.compare(a.key, b.key)).map((k) => k.e);
}

/**
 * Write `out` through a temp file beside it, renamed only on success; the temp is removed on
 * failure. An existing device node, FIFO or socket at `out` is refused before anything is written
 * (a UserError): the rename would silently replace the node itself. (A directory there makes the
 * rename fail; commands that take a path check for one first, see outputFile in src/user-files.ts.)
 */
export async function writeAtomically<T>(out: string, write: (tmp: string) => Promise<T>): Promise<T> {
  const existing = await stat(out).catch(() => undefined);
  if (existing && !existing.isFile() && !existing.isDirectory()) outputTarget(out);
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${randomBytes(4).toString("hex")}`);
  try {
    const result = await write(tmp);
    await rename(tmp, out);
    return result;
  } catch (e) {
    await rm(tmp, { force: true, recursive: true });
    throw e;
  }
}
