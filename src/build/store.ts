// The digest-addressed stage store. Each stage output lives in objects/<stage>/<digest>/ and is
// made in tmp/ first, then committed by one rename after everything in it is fsynced: a killed
// build (or a crash) leaves only tmp/ litter, which no lookup ever trusts and the next store open
// removes. meta.json records every file of the entry with its size (and sha256 for small files);
// a lookup checks them, and an entry that does not match is removed and built again. A large file
// also has its mtime recorded: out/ holds hard links to the store's files (pipeline.ts writeOut),
// so a file written in place there is seen here as a changed entry, never reused.
// An entry directory's mtime is when it was last used (committed or hit): `icos clean` prunes the
// least recently used first (store-prune.ts).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, mkdtempSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { listTree } from "../fs/files.ts";
import { fsyncPath, fsyncTree, mkdirDurable } from "../fs/fsync.ts";

export interface StoreEntry {
  path: string;
  meta: Record<string, unknown>;
}

/** What `put` records of each regular file of an entry (path relative to the entry). */
export interface FileRecord {
  size: number;
  /** Only for files of at most SHA256_CHECKED_MAX bytes: cheap to check on every lookup. */
  sha256?: string;
  /** Only for larger files: their modification time (ms) when committed. */
  mtimeMs?: number;
}

/** Files up to this size have their sha256 recorded and checked on every lookup; larger ones only their size. */
export const SHA256_CHECKED_MAX = 1 << 20;

const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export class Store {
  readonly objects: string;
  readonly tmp: string;
  /** Where the store says that it threw a damaged entry away (stderr unless replaced). */
  note: (line: string) => void = (line) => process.stderr.write(line + "\n");

  constructor(readonly root: string) {
    this.objects = join(root, "objects");
    this.tmp = join(root, "tmp");
    mkdirSync(this.objects, { recursive: true });
    mkdirSync(this.tmp, { recursive: true });
  }

  /** Remove temp directories left by builds that were killed. Only the holder of the cache lock calls it (src/build/cache.ts). */
  sweep(): void {
    for (const name of readdirSync(this.tmp)) rmSync(join(this.tmp, name), { recursive: true, force: true });
  }

  private dir(stage: string, digest: string): string {
    return join(this.objects, stage, digest);
  }

  /**
   * The committed entry of (stage, digest), if there is one and it is intact: meta.json parses,
   * names this entry, and every file it records is there with its recorded size (and sha256 for
   * small files). A damaged entry is removed, with a note, and is a miss.
   */
  get(stage: string, digest: string): StoreEntry | undefined {
    const path = this.dir(stage, digest);
    const metaFile = join(path, "meta.json");
    // meta.json is written inside the temp dir before the commit, so a committed entry always has
    // it; a directory without it is an uncommitted leftover, which `put` replaces.
    if (!existsSync(metaFile)) return undefined;
    let meta: unknown;
    try {
      meta = JSON.parse(readFileSync(metaFile, "utf8"));
    } catch {
      meta = undefined;
    }
    const problem = isRecord(meta) ? damage(path, stage, digest, meta) : "meta.json does not parse";
    if (problem === undefined) {
      touch(path);
      return { path, meta: meta as Record<string, unknown> };
    }
    this.note(`cache: ${stage}/${digest.slice(0, 12)} is damaged (${problem}): removed, building it again`);
    rmSync(path, { recursive: true, force: true });
    return undefined;
  }

  /** A scratch directory inside the store (same file system, so renames are atomic). */
  scratch(label: string): string {
    return mkdtempSync(join(this.tmp, `${label.replace(/[^\w.-]/g, "_")}-`));
  }

  /**
   * Run `make` in a fresh temp directory and commit it under (stage, digest): record its files in
   * meta.json, fsync everything in it, rename it into objects/<stage>/ and fsync that directory.
   * On any error the temp directory is removed and nothing is committed.
   */
  async put(stage: string, digest: string, make: (dir: string) => Promise<Record<string, unknown>>): Promise<StoreEntry> {
    const work = this.scratch(`${stage}-${digest.slice(0, 12)}`);
    try {
      const made = await make(work);
      if ("files" in made) throw new Error(`stage ${stage} returned a meta key "files", which the store writes itself`);
      const meta = { stage, digest, ...made, files: await recordFiles(work) };
      writeFileSync(join(work, "meta.json"), JSON.stringify(meta, null, 2) + "\n");
      await fsyncTree(work);
      const parent = join(this.objects, stage);
      await mkdirDurable(parent);
      const target = this.dir(stage, digest);
      rmSync(target, { recursive: true, force: true }); // an uncommitted leftover without meta.json
      renameSync(work, target);
      touch(target);
      await fsyncPath(parent);
      return { path: target, meta };
    } catch (err) {
      rmSync(work, { recursive: true, force: true });
      throw err;
    }
  }
}

/** Mark an entry used now (its directory's mtime); no stage reads a directory's times. */
function touch(path: string): void {
  const now = new Date();
  try {
    utimesSync(path, now, now);
  } catch {
    // a read-only store still works; pruning then goes by commit time
  }
}

/** Every regular file below `dir`, with its size, and its sha256 when it is small. */
async function recordFiles(dir: string): Promise<Record<string, FileRecord>> {
  const files: Record<string, FileRecord> = {};
  for (const e of await listTree(dir)) {
    if (!e.stat.isFile()) continue;
    files[e.path] = e.stat.size <= SHA256_CHECKED_MAX ? { size: e.stat.size, sha256: sha256(await readFile(e.abs)) } : { size: e.stat.size, mtimeMs: e.stat.mtimeMs };
  }
  return files;
}

/** What is wrong with a committed entry, or undefined when it is intact as far as cheap checks go. */
function damage(path: string, stage: string, digest: string, meta: Record<string, unknown>): string | undefined {
  if (meta.stage !== stage || meta.digest !== digest) return `meta.json is for ${String(meta.stage)}/${String(meta.digest)}`;
  if (!isRecord(meta.files)) return "meta.json has no record of the entry's files (committed by an older icos)";
  for (const [name, rec] of Object.entries(meta.files)) {
    if (!isRecord(rec) || typeof rec.size !== "number" || name.startsWith("/") || name.split("/").includes("..")) return `meta.json: bad record of ${name}`;
    let size: number;
    let mtimeMs: number;
    try {
      const st = statSync(join(path, name));
      if (!st.isFile()) return `${name} is not a file`;
      size = st.size;
      mtimeMs = st.mtimeMs;
    } catch {
      return `${name} is missing`;
    }
    if (size !== rec.size) return `${name} is ${size} bytes, ${rec.size} when committed`;
    if (typeof rec.mtimeMs === "number" && mtimeMs !== rec.mtimeMs) return `${name} was written after it was committed (through a hard link in an output directory?)`;
    if (typeof rec.sha256 === "string" && sha256(readFileSync(join(path, name))) !== rec.sha256) return `${name}'s sha256 is not the one committed`;
  }
  return undefined;
}
