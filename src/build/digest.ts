// Digests that key the build cache: sha256 over canonical JSON, and over directory trees.
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

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
export function digestTree(root: string): string {
  const h = createHash("sha256");
  const walk = (rel: string): void => {
    const names = readdirSync(join(root, rel)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const full = join(root, path);
      const st = lstatSync(full);
      if (st.isDirectory()) {
        h.update(`d ${path}\n`);
        walk(path);
      } else if (st.isSymbolicLink()) h.update(`l ${path} ${readlinkSync(full)}\n`);
      else if (st.isFile()) h.update(`f ${path} ${st.mode & 0o111 ? "x" : "-"} ${sha256(readFileSync(full))}\n`);
      else throw new Error(`${full}: only files, directories and symlinks belong in a build context`);
    }
  };
  walk("");
  return h.digest("hex");
}
