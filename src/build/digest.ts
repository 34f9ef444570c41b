// Digests that key the build cache: sha256 over canonical JSON, and over directory trees.
// The plain hashes (sha256, sha256File) are in src/fs/hash.ts; what is hashed here, and how, is the
// build cache's key, so it stays with the build.
import { createHash } from "node:crypto";
import { readFile, readlink } from "node:fs/promises";
import { UserError } from "../errors.ts";
import { listTree } from "../fs/files.ts";
import { sha256 } from "../fs/hash.ts";

/** JSON with object keys sorted, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return typeof v === "bigint" ? v.toString() : v;
  });
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
