// Digests that key the build cache: sha256 over canonical JSON, and over directory trees.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, readlink } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { UserError } from "../errors.ts";
import { listTree } from "../image/files.ts";

/** JSON with object keys sorted, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return typeof v === "bigint" ? v.toString() : v;
  });
}

export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export function digestOf(value: unknown): string {
  return sha256(canonicalJson(value));
}

/**
 * Digest of a directory tree: relative paths (sorted bytewise), types, the executable bit and
 * contents. Not mtimes or owners: a checkout's times are arbitrary and the build normalises both.
 */
export async function digestTree(root: string): Promise<string> {
  const h = createHash("sha256");
  for (const e of await listTree(root)) {
    if (e.stat.isDirectory()) h.update(`d ${e.path}\n`);
    else if (e.stat.isSymbolicLink()) h.update(`l ${e.path} ${await readlink(e.abs)}\n`);
    else if (e.stat.isFile()) h.update(`f ${e.path} ${e.stat.mode & 0o111 ? "x" : "-"} ${sha256(await readFile(e.abs))}\n`);
    else throw new UserError(`${e.abs}: only files, directories and symlinks belong in a build context`);
  }
  return h.digest("hex");
}

/** sha256 of a file, streamed (disk images are many GiB). Stages record it in their meta.json. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(createReadStream(path, { highWaterMark: 1 << 22 }), h);
  return h.digest("hex");
}
