// The digest-addressed stage store. Each stage output lives in objects/<stage>/<digest>/ and is
// made in tmp/ first, then committed by one rename: a killed build leaves only tmp/ litter,
// which no lookup ever trusts and the next store open removes.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, mkdtempSync, readdirSync } from "node:fs";
import { join } from "node:path";

export interface StoreEntry {
  path: string;
  meta: Record<string, unknown>;
}

export class Store {
  readonly objects: string;
  readonly tmp: string;

  constructor(readonly root: string) {
    this.objects = join(root, "objects");
    this.tmp = join(root, "tmp");
    mkdirSync(this.objects, { recursive: true });
    mkdirSync(this.tmp, { recursive: true });
  }

  /** Remove temp directories left by builds that were killed (not while another build runs). */
  sweep(): void {
    for (const name of readdirSync(this.tmp)) rmSync(join(this.tmp, name), { recursive: true, force: true });
  }

  private dir(stage: string, digest: string): string {
    return join(this.objects, stage, digest);
  }

  get(stage: string, digest: string): StoreEntry | undefined {
    const path = this.dir(stage, digest);
    const metaFile = join(path, "meta.json");
    // meta.json is written last inside the temp dir, so a committed entry always has it.
    if (!existsSync(metaFile)) return undefined;
    return { path, meta: JSON.parse(readFileSync(metaFile, "utf8")) as Record<string, unknown> };
  }

  /** A scratch directory inside the store (same file system, so renames are atomic). */
  scratch(label: string): string {
    return mkdtempSync(join(this.tmp, `${label.replace(/[^\w.-]/g, "_")}-`));
  }

  /**
   * Run `make` in a fresh temp directory and commit it under (stage, digest). On any error the
   * temp directory is removed and nothing is committed.
   */
  async put(stage: string, digest: string, make: (dir: string) => Promise<Record<string, unknown>>): Promise<StoreEntry> {
    const work = this.scratch(`${stage}-${digest.slice(0, 12)}`);
    try {
      const meta = await make(work);
      writeFileSync(join(work, "meta.json"), JSON.stringify({ stage, digest, ...meta }, null, 2) + "\n");
      const target = this.dir(stage, digest);
      mkdirSync(join(this.objects, stage), { recursive: true });
      rmSync(target, { recursive: true, force: true }); // an uncommitted leftover without meta.json
      renameSync(work, target);
      return { path: target, meta: { stage, digest, ...meta } };
    } catch (err) {
      rmSync(work, { recursive: true, force: true });
      throw err;
    }
  }
}
