// A bit-reproducible ext4 image from a directory tree (host-recipes.md, "ext4"). The caller's
// tree is never touched: mke2fs -d copies atime/mtime/ctime from the source files (seconds only),
// so those are overwritten inside the image afterwards (src/image/ext4-times.ts: the edit
// debugfs would make, in a fraction of a second instead of seconds). crtime, the superblock times
// and the root directory come from E2FSPROGS_FAKE_TIME. Numeric owners and modes are kept.
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ToolFailedError, UserError } from "../errors.ts";
import { run } from "../exec.ts";
import { setInodeTimes } from "./ext4-times.ts";
import { RESET_LIFETIME_WRITES, runDebugfsScript } from "./debugfs.ts";
import { listTree, writeAtomically } from "../fs/files.ts";

export interface Ext4Options {
  /** Directory whose contents become the filesystem root (the root itself is root:root, `rootMode`). */
  tree: string;
  /** Mode of the root directory (default 0755, what mke2fs makes); mke2fs -d does not copy it. */
  rootMode?: number;
  out: string;
  sizeBytes: number;
  /** At most 16 bytes. */
  label: string;
  /** Filesystem UUID, also the directory hash seed. */
  uuid: string;
  /** Unix seconds: every inode time and every superblock time. */
  sourceDateEpoch: number;
  blockSize?: 1024 | 2048 | 4096;
  /** Extra -O features, e.g. ["^has_journal"]. */
  features?: readonly string[];
}

// Pinned instead of /etc/mke2fs.conf, so the host's defaults cannot change the image. These are
// bookworm's ext4 features; orphan_file (a 1.47 upstream default) and metadata_csum_seed stay off
// for older kernels and e2fsprogs. "-T default" keeps the size-based usage types (small, floppy)
// and their inode ratios out of it.
const MKE2FS_CONF = `[defaults]
	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
	default_mntopts = acl,user_xattr
	enable_periodic_fsck = 0
	inode_size = 256
	inode_ratio = 16384
[fs_types]
	ext4 = {
		features = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
	}
`;

// mke2fs sizes the journal by the filesystem (64 MiB at 4-16 GiB, up to 1 GiB), and writes it out
// in full: the image's allocated bytes, and every later copy of it, would grow with the partition's
// size. From 4 GiB on it is pinned at 64 MiB, what mke2fs picks there anyway.
const JOURNAL_PINNED_FROM_BYTES = 4 * 2 ** 30;
const JOURNAL_MIB = 64;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function validate(o: Ext4Options, bs: number): void {
  const where = `ext4 image ${o.out}`;
  if (Buffer.byteLength(o.label) > 16) throw new UserError(`${where}: label "${o.label}" is longer than 16 bytes`);
  if (!UUID_RE.test(o.uuid)) throw new UserError(`${where}: uuid must be a lower-case UUID, got "${o.uuid}"`);
  if (!Number.isSafeInteger(o.sizeBytes) || o.sizeBytes <= 0 || o.sizeBytes % bs !== 0) {
    throw new UserError(`${where}: sizeBytes must be a positive multiple of the ${bs}-byte block, got ${o.sizeBytes}`);
  }
  if (!Number.isInteger(o.sourceDateEpoch) || o.sourceDateEpoch < 0 || o.sourceDateEpoch >= 2 ** 32) {
    throw new UserError(`${where}: sourceDateEpoch must be whole Unix seconds, got ${o.sourceDateEpoch}`);
  }
  if (o.rootMode !== undefined && !(Number.isInteger(o.rootMode) && o.rootMode >= 0 && o.rootMode <= 0o7777)) {
    throw new UserError(`${where}: rootMode must be a permission mode such as 0o700, got ${o.rootMode}`);
  }
  for (const f of o.features ?? []) {
    if (!/^\^?[a-z0-9_]+$/.test(f)) throw new UserError(`${where}: bad feature "${f}"`, 'features look like "metadata_csum" or "^has_journal"');
  }
}

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

export async function buildExt4(o: Ext4Options): Promise<void> {
  const bs = o.blockSize ?? 4096;
  validate(o, bs);
  if (!(await stat(o.tree).catch(() => undefined))?.isDirectory()) throw new UserError(`ext4 image ${o.out}: tree ${o.tree} is not a directory`);

  const entries = await listTree(o.tree);
  // A lower bound (data blocks and one block per directory): only a tree that cannot fit is refused here.
  let treeBytes = bs;
  for (const e of entries) {
    if (e.path.includes("\n")) throw new UserError(`ext4 image ${o.out}: file name with a newline: ${JSON.stringify(e.abs)}`);
    if (e.stat.isFile()) treeBytes += Math.min(Math.ceil(e.stat.size / bs) * bs, e.stat.blocks * 512); // holes stay holes
    else if (e.stat.isDirectory()) treeBytes += bs;
  }
  const tooSmall = (): UserError =>
    new UserError(
      `ext4 image ${o.out}: tree ${o.tree} (${mib(treeBytes)} in ${entries.length} entries) does not fit in ${mib(o.sizeBytes)}`,
      "raise the partition size (ext4 metadata and the journal need room too)",
    );
  if (treeBytes > o.sizeBytes) throw tooSmall();

  const work = await mkdtemp(join(tmpdir(), "icos-ext4-"));
  const what = `(label ${o.label || "(none)"}, ${o.out})`;
  try {
    const env = { MKE2FS_CONFIG: join(work, "mke2fs.conf"), E2FSPROGS_FAKE_TIME: String(o.sourceDateEpoch) };
    await writeFile(env.MKE2FS_CONFIG, MKE2FS_CONF);
    await writeAtomically(o.out, async (tmp) => {
      const args = ["-q", "-t", "ext4", "-T", "default", "-b", String(bs), "-d", o.tree, "-U", o.uuid, "-L", o.label];
      args.push("-E", `hash_seed=${o.uuid},root_owner=0:0`);
      if (o.features?.length) args.push("-O", o.features.join(","));
      if (o.sizeBytes >= JOURNAL_PINNED_FROM_BYTES && !o.features?.includes("^has_journal")) args.push("-J", `size=${JOURNAL_MIB}`);
      try {
        await run("mke2fs", [...args, tmp, String(o.sizeBytes / bs)], { env, context: `mkfs.ext4 ${what}` });
      } catch (e) {
        if (e instanceof ToolFailedError && /Could not allocate|No space|too small/i.test(e.stderrTail)) throw tooSmall();
        throw e;
      }
      await setInodeTimes(tmp, o.sourceDateEpoch, { rootMode: o.rootMode });
      await runDebugfsScript(tmp, [RESET_LIFETIME_WRITES], { sourceDateEpoch: o.sourceDateEpoch, context: `debugfs superblock fix-up ${what}` });
      await run("e2fsck", ["-fn", tmp], { context: `e2fsck check ${what}` });
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
