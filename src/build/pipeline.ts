// A build: from a target (guestos/dev) to out/<os>/<variant>/, stage by stage. Each stage is
// cached in the store by the digest of its inputs; out/ is replaced atomically at the end.
import { link, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { UserError } from "../errors.ts";
import { run } from "../exec.ts";
import { toolVersions } from "../host/doctor.ts";
import { fsyncPath, fsyncTree, mkdirDurable } from "../fs/fsync.ts";
import { sha256File } from "../fs/hash.ts";
import { BLOCK_DIGEST_CHECK } from "../fs/sparse.ts";
import { gptFromLayout } from "../image/layout-gpt.ts";
import type { PublicKey, SigningKey } from "../image/update-signature.ts";
import { loadLayout, resolveLayout, type ResolvedLayout } from "../model/layout.ts";
import { layoutFileOf } from "../model/os.ts";
import { outDirOf, parseTarget, type Target } from "../model/target.ts";
import { openStore } from "./cache.ts";
import { Progress, type StageReport } from "./progress.ts";
import { recipeFor, type RecipeResult } from "./recipes.ts";
import type { StageContext } from "./stage.ts";
import { SHA256_CHECKED_MAX } from "./store.ts";
import { warnIfOverBudget } from "./store-prune.ts";

export interface BuildOptions {
  /** Scale the layout's sizes down (tests use 1/64); 1 = the real IC-OS sizes. */
  scale: number;
  fillB: boolean;
  version: string;
  quiet: boolean;
  outDir?: string;
  /** Also the compressed release archives (disk archive, update images); the dev loop needs disk.img only. */
  artifacts?: boolean;
  /** Another stage store than the default (icos verify builds with empty ones). */
  cacheDir?: string;
  /** Signs the update images; its public key is trusted by the image. */
  signingKey?: SigningKey;
  /** More public keys the image trusts for its upgrades (e.g. the next signing key). */
  trustedKeys?: PublicKey[];
}

export interface BuildResult {
  outDir: string;
  manifest: Record<string, unknown>;
  stages: StageReport[];
}

/** Run the recipe of `target`'s kind; `chain` holds the targets that embed it (cycle check). */
async function stagesOf(ctx: StageContext, target: Target, opts: BuildOptions, trustedKeys: PublicKey[], chain: string[]): Promise<RecipeResult & { layout: ResolvedLayout }> {
  if (chain.includes(target.id)) throw new UserError(`${target.os.file}: ${[...chain, target.id].join(" embeds ")}: a target cannot embed itself`);
  const recipe = recipeFor(target.os.kind);
  if ("missing" in recipe) throw new UserError(`${target.id}: cannot build an image of kind ${target.os.kind} yet: ${recipe.missing}`);
  const layout = resolveLayout(loadLayout(layoutFileOf(target.os, target.variant)), { scale: opts.scale });
  const made = await recipe.build(ctx, target, layout, {
    version: opts.version,
    fillB: opts.fillB,
    diskOnly: chain.length > 0,
    artifacts: opts.artifacts === true,
    signingKey: opts.signingKey,
    trustedKeys,
    dependency: async (text) => {
      const dep = await stagesOf(ctx, parseTarget(text), { ...opts, fillB: false }, trustedKeys, [...chain, target.id]);
      return { diskImg: dep.diskImg, diskBlockSha256: dep.blockSha256["disk.img"]!, digest: dep.diskDigest };
    },
  });
  return { ...made, layout };
}

export async function build(target: Target, opts: BuildOptions): Promise<BuildResult> {
  const progress = new Progress(opts.quiet);
  // The lock wait and damaged cache entries are reported like every other step (a --json build stays quiet).
  const { store, release } = openStore(opts.cacheDir, { note: (line) => progress.note(line) });
  try {
    // Each trusted key once, in fingerprint order: the image, its digest and the manifest agree.
    const keys = new Map([...(opts.signingKey ? [opts.signingKey] : []), ...(opts.trustedKeys ?? [])].map((k) => [k.fingerprint, k]));
    const trustedKeys = [...keys.values()].sort((a, b) => a.fingerprint.localeCompare(b.fingerprint));
    const made = await stagesOf({ store, progress }, target, opts, trustedKeys, []);

    // Hashes come from the stages that made the files (kept in the cache), not from re-reading them.
    const manifest = {
      target: target.id,
      version: opts.version,
      signedBy: opts.signingKey?.fingerprint ?? null,
      trustedKeys: trustedKeys.map((k) => k.fingerprint),
      unsignedUpgrades: target.os.variants[target.variant]!.unsignedUpgrades,
      scale: opts.scale,
      fillB: opts.fillB,
      inputs: made.inputs,
      // In run order; an embedded target's stages appear under its own subject.
      stages: progress.stages.map((s) => ({ stage: s.stage, subject: s.subject, digest: s.digest })),
      tools: await toolVersions(["podman", "runc", "tar", "mke2fs", "debugfs", "mkfs.vfat", "mcopy", "grub-mkimage", "zstd"]),
      partitions: gptFromLayout(made.layout).partitions.map((p) => ({
        index: p.index, name: p.name, type: p.typeGuid, guid: p.partGuid, startLba: p.firstLba, sizeLba: p.lastLba - p.firstLba + 1,
        blockSha256: made.partitionBlockSha256[p.index] ?? "empty",
      })),
      sha256: made.sha256,
      blockSha256: made.blockSha256,
    };
    const sums = { sha256: made.sha256, blockSha256: made.blockSha256 };
    const out = opts.outDir ?? outDirOf(target);
    const text = JSON.stringify(manifest, null, 2) + "\n";
    const stale = await outOfDate(out, made.files, sums, text);
    if (stale === undefined) {
      progress.note(`up to date: ${out}`);
    } else {
      progress.note(`writing ${out} (${stale})`);
      await writeOut(out, made.files, sums, text);
      progress.note(`done: ${out}`);
    }
    // After the build: its own new entries count too. A warning only; `icos clean` prunes.
    await warnIfOverBudget(store, { note: (line) => progress.note(line) });
    return { outDir: out, manifest, stages: progress.stages };
  } finally {
    release();
  }
}

/** A hard link to `src` at `dest`, or a sparse copy with its mtime where no link can be made (another file system). */
async function linkOrCopy(src: string, dest: string, name: string): Promise<void> {
  try {
    await link(src, dest);
  } catch (e) {
    if (!["EXDEV", "EPERM", "EMLINK"].includes((e as NodeJS.ErrnoException).code ?? "")) throw e;
    await run("cp", ["--sparse=always", "--preserve=timestamps", src, dest], { context: `copy ${name}` });
  }
}

/** The digests published beside the files: sha256 of each archive, block digests of sparse images. */
export interface Sums {
  sha256: Record<string, string>;
  blockSha256: Record<string, string>;
}

/** The text files that publish `sums` (SHA256SUMS, BLOCKSUMS), each only when it lists something. */
export function sumFiles(sums: Sums): Record<string, string> {
  const lines = (m: Record<string, string>) => Object.keys(m).sort().map((f) => `${m[f]}  ${f}\n`).join("");
  const files: Record<string, string> = {};
  if (Object.keys(sums.sha256).length) files["SHA256SUMS"] = lines(sums.sha256);
  if (Object.keys(sums.blockSha256).length) {
    files["BLOCKSUMS"] = `# Block digests of sparse images: sha256 of the sha256s of each 1 MiB block, so a digest never\n# reads the holes. Check one with coreutils: ${BLOCK_DIGEST_CHECK}\n` + lines(sums.blockSha256);
  }
  return files;
}

/**
 * Why `out` does not hold what writeOut would write there, or undefined when it does: the same
 * manifest.json and SHA256SUMS, and every file they list (`files`: name -> its source in the
 * store) present with its source's size and, for a small file, the sha256 in `sums`; a large one
 * is its source (a hard link) or has its source's mtime (a copy). Large files are not re-hashed:
 * a no-op build stays a stat per file.
 */
export async function outOfDate(out: string, files: Record<string, string>, sums: Sums, manifest: string): Promise<string | undefined> {
  const manifestNow = await readFile(join(out, "manifest.json"), "utf8").catch(() => undefined);
  if (manifestNow === undefined) return "no manifest.json";
  if (manifestNow !== manifest) return "manifest.json is another build's";
  for (const [name, text] of Object.entries(sumFiles(sums))) {
    if ((await readFile(join(out, name), "utf8").catch(() => undefined)) !== text) return `${name} differs`;
  }
  for (const [name, src] of Object.entries(files)) {
    const source = await stat(src);
    const want = source.size;
    const got = await stat(join(out, name)).catch(() => undefined);
    if (!got?.isFile()) return `${name} is missing`;
    if (got.size !== want) return `${name} is ${got.size} bytes, expected ${want}`;
    const sha = sums.sha256[name];
    if (sha !== undefined && want <= SHA256_CHECKED_MAX && (await sha256File(join(out, name))) !== sha) return `${name}'s sha256 is not ${sha}`;
    const same = got.ino === source.ino && got.dev === source.dev;
    if (want > SHA256_CHECKED_MAX && !same && got.mtimeMs !== source.mtimeMs) return `${name} is not the one the stage store holds`;
  }
  return undefined;
}

/**
 * Fill out/<os>/<variant>/ beside its final place, fsync it, then swap it in whole (and fsync
 * the directory holding it, so the swap survives a crash). The files are hard links to the stage
 * store's (committed, fsynced, never written again): publishing costs nothing per byte. Across
 * file systems they are sparse copies with the store file's mtime.
 */
export async function writeOut(out: string, files: Record<string, string>, sums: Sums, manifest: string): Promise<void> {
  const tmp = `${out}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdirDurable(tmp);
  try {
    for (const [name, src] of Object.entries(files)) await linkOrCopy(src, join(tmp, name), name);
    for (const [name, text] of Object.entries(sumFiles(sums))) await writeFile(join(tmp, name), text);
    await writeFile(join(tmp, "manifest.json"), manifest);
    await fsyncTree(tmp);
    const old = `${out}.old-${process.pid}`;
    await rename(out, old).catch(() => undefined);
    await rename(tmp, out);
    await fsyncPath(dirname(out));
    await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
