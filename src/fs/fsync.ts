// Durability: fsync of files and directories, for whatever is committed by a rename (the stage
// store's entries, out/). A rename is atomic, but only what was fsynced before it, and the
// directory it lands in after it, survive a crash.
import { mkdir, open } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { listTree } from "./files.ts";

/**
 * fsync a file or a directory: its data, or for a directory the names in it (what makes a file
 * created or renamed there survive a crash).
 */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync every regular file and directory below `root`, and `root`: all of it is on disk before a rename commits it. */
export async function fsyncTree(root: string): Promise<void> {
  for (const e of await listTree(root)) if (e.stat.isFile() || e.stat.isDirectory()) await fsyncPath(e.abs);
  await fsyncPath(root);
}

/** mkdir -p, with the parent of every directory it created fsynced, so the new directories survive a crash. */
export async function mkdirDurable(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true });
  if (created === undefined) return;
  const first = resolve(created);
  for (let d = resolve(dir); ; d = dirname(d)) {
    await fsyncPath(dirname(d));
    if (d === first || dirname(d) === d) break;
  }
}
