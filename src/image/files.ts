// File helpers every image builder shares: a sorted tree listing, and atomic writes.
import { randomBytes } from "node:crypto";
import type { Stats } from "node:fs";
import { lstat, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

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

/** Write `out` through a temp file beside it, renamed only on success; the temp is removed on failure. */
export async function writeAtomically<T>(out: string, write: (tmp: string) => Promise<T>): Promise<T> {
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
