import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildExt4, type Ext4Options } from "../../../src/image/ext4.ts";
import { UserError } from "../../../src/errors.ts";
import { run } from "../../../src/exec.ts";
import { scratch } from "../../helpers/tmp.ts";

const SDE = 1700000000;
const UUID = "0f0e0d0c-0000-4000-8000-000000000001";
const MiB = 2 ** 20;

/** A small rootfs-like tree, created in the given order, with owners, modes, links and odd names. */
function makeTree(dir: string, reverse = false): void {
  mkdirSync(join(dir, "usr/bin"), { recursive: true });
  mkdirSync(join(dir, "etc"));
  mkdirSync(join(dir, "var/empty dir"), { recursive: true });
  const names = Array.from({ length: 40 }, (_, i) => `tool${i}`);
  for (const n of reverse ? names.reverse() : names) writeFileSync(join(dir, "usr/bin", n), `#!/bin/sh\necho ${n}\n`);
  writeFileSync(join(dir, "etc/hostname"), "icos\n");
  chownSync(join(dir, "etc/hostname"), 1000, 1001);
  chmodSync(join(dir, "usr/bin/tool3"), 0o4755);
  writeFileSync(join(dir, 'var/empty dir/q"uo\\te'), "x");
  writeFileSync(join(dir, "big"), Buffer.alloc(300 * 1024, 7));
  symlinkSync("../etc/hostname", join(dir, "usr/hn"));
  linkSync(join(dir, "usr/bin/tool1"), join(dir, "usr/bin/hardlink"));
}

const opts = (tree: string, out: string): Ext4Options => ({ tree, out, sizeBytes: 32 * MiB, label: "ROOT", uuid: UUID, sourceDateEpoch: SDE });
const sha = (f: string): string => createHash("sha256").update(readFileSync(f)).digest("hex");
const debugfs = async (img: string, cmd: string): Promise<string> => (await run("debugfs", ["-R", cmd, img])).stdout;

test("ext4: same tree from two directories (other order, times, inodes, filesystem) gives identical bytes", async (t) => {
  const dir = scratch(t);
  // The second copy sits on tmpfs when there is one: lifetime writes differ with the source fs.
  const other = statSync("/dev/shm", { throwIfNoEntry: false })?.isDirectory() ? mkdtempSync("/dev/shm/icos-test-") : dir;
  t.after(() => rmSync(other, { recursive: true, force: true }));
  makeTree(join(dir, "a"));
  readFileSync(join(dir, "a/big")); // atime
  await buildExt4(opts(join(dir, "a"), join(dir, "a.img")));
  await new Promise((r) => setTimeout(r, 1100)); // new ctimes, and a wall-clock second must not show up
  makeTree(join(other, "b"), true);
  utimesSync(join(other, "b/etc"), 1234567890, 1234567890);
  utimesSync(join(other, "b/usr/bin/tool5"), 1500000000, 1500000000);
  await buildExt4(opts(join(other, "b"), join(dir, "b.img")));
  assert.equal(sha(join(dir, "a.img")), sha(join(dir, "b.img")));
  assert.equal(statSync(join(dir, "a.img")).size, 32 * MiB);
  // The caller's tree is untouched.
  assert.equal(statSync(join(other, "b/usr/bin/tool5")).mtimeMs, 1500000000 * 1000);
});

test("ext4: e2fsck clean; contents, owners, modes and times as expected", async (t) => {
  const dir = scratch(t);
  makeTree(join(dir, "tree"));
  const img = join(dir, "root.img");
  await buildExt4(opts(join(dir, "tree"), img));
  await run("e2fsck", ["-fn", img]);
  assert.equal(await debugfs(img, "cat /usr/bin/tool7"), "#!/bin/sh\necho tool7\n");
  assert.equal(await debugfs(img, 'cat "/var/empty dir/q""uo\\te"'), "x");
  const host = await debugfs(img, "stat /etc/hostname");
  assert.match(host, /User:\s+1000\s+Group:\s+1001/);
  for (const kind of ["ctime", "atime", "mtime", "crtime"]) assert.match(host, new RegExp(`${kind}: 0x${SDE.toString(16)}:00000000`));
  assert.match(await debugfs(img, "stat /usr/bin/tool3"), /Mode:\s+04755/);
  assert.match(await debugfs(img, "stat /usr/bin/tool1"), /Links: 2/);
  assert.match(await debugfs(img, "stat /usr/hn"), /Fast link dest: "..\/etc\/hostname"/);
  assert.match(await debugfs(img, "stat /"), /Mode:\s+0755[\s\S]*User:\s+0\s+Group:\s+0[\s\S]*mtime: 0x6553f100/);
  const sb = (await run("dumpe2fs", ["-h", img])).stdout;
  assert.match(sb, /Filesystem volume name:\s+ROOT/);
  assert.match(sb, new RegExp(`Filesystem UUID:\\s+${UUID}`));
  assert.doesNotMatch(sb, /orphan_file|metadata_csum_seed/);
  assert.doesNotMatch(sb, /Lifetime writes/); // kbytes_written reset to 0
  for (const field of ["Filesystem created", "Last write time", "Last checked"]) assert.match(sb, new RegExp(`${field}:\\s+Tue Nov 14 22:13:20 2023`));
});

test("ext4: rootMode sets the root directory's mode (mke2fs -d keeps 0755)", async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, "empty"));
  const img = join(dir, "config.img");
  await buildExt4({ ...opts(join(dir, "empty"), img), rootMode: 0o700 });
  await run("e2fsck", ["-fn", img]);
  assert.match(await debugfs(img, "stat /"), /Mode:\s+0700[\s\S]*User:\s+0\s+Group:\s+0/);
  await assert.rejects(buildExt4({ ...opts(join(dir, "empty"), join(dir, "x.img")), rootMode: 0o10000 }), /rootMode/);
});

test("ext4: a tree bigger than the image fails naming image and sizes; nothing left behind", async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, "tree"));
  writeFileSync(join(dir, "tree/blob"), Buffer.alloc(40 * MiB, 1));
  const out = join(dir, "small.img");
  await assert.rejects(buildExt4({ ...opts(join(dir, "tree"), out), sizeBytes: 16 * MiB }), (e: Error) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /small\.img: tree .*tree \(40\.0 MiB in 1 entries\) does not fit in 16\.0 MiB/);
    return true;
  });
  // Passes the quick estimate but mke2fs runs out (metadata + journal): same error.
  writeFileSync(join(dir, "tree/blob"), Buffer.alloc(15 * MiB, 1));
  await assert.rejects(buildExt4({ ...opts(join(dir, "tree"), out), sizeBytes: 16 * MiB }), /does not fit in 16\.0 MiB/);
  assert.deepEqual(readdirSync(dir), ["tree"]);
});

test("ext4: a failed build leaves an existing image in place", async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, "tree"));
  writeFileSync(join(dir, "tree/blob"), Buffer.alloc(20 * MiB, 1));
  const out = join(dir, "root.img");
  writeFileSync(out, "previous");
  await assert.rejects(buildExt4({ ...opts(join(dir, "tree"), out), sizeBytes: 16 * MiB }), /does not fit/);
  assert.equal(readFileSync(out, "utf8"), "previous");
  assert.deepEqual(readdirSync(dir).sort(), ["root.img", "tree"]);
});

test("ext4: bad options are refused before any tool runs", async (t) => {
  const dir = scratch(t);
  const base = opts(dir, join(dir, "x.img"));
  await assert.rejects(buildExt4({ ...base, label: "a-label-longer-than-16" }), /label "a-label-longer-than-16" is longer than 16 bytes/);
  await assert.rejects(buildExt4({ ...base, uuid: "nope" }), /uuid must be a lower-case UUID, got "nope"/);
  await assert.rejects(buildExt4({ ...base, sizeBytes: 1000 }), /multiple of the 4096-byte block, got 1000/);
  await assert.rejects(buildExt4({ ...base, features: ["bad feature"] }), /bad feature "bad feature"/);
  await assert.rejects(buildExt4({ ...base, tree: join(dir, "missing") }), /missing is not a directory/);
  assert.deepEqual(readdirSync(dir), []);
});

test("ext4: extra features and another block size reach mke2fs", async (t) => {
  const dir = scratch(t);
  makeTree(join(dir, "tree"));
  const img = join(dir, "r.img");
  await buildExt4({ ...opts(join(dir, "tree"), img), features: ["^has_journal"], blockSize: 1024, sizeBytes: 16 * MiB });
  const sb = (await run("dumpe2fs", ["-h", img])).stdout;
  assert.doesNotMatch(sb, /has_journal/);
  assert.match(sb, /Block size:\s+1024/);
});

test("ext4: the allocated bytes do not grow with the filesystem's size (journal pinned, tables left sparse)", async (t) => {
  const dir = scratch(t);
  const tree = join(dir, "tree");
  makeTree(tree);
  const allocated: number[] = [];
  for (const gib of [8, 80]) {
    const out = join(dir, `${gib}.img`);
    await buildExt4({ ...opts(tree, out), sizeBytes: gib * 2 ** 30 });
    allocated.push(statSync(out).blocks * 512);
    rmSync(out);
  }
  const [small, large] = allocated as [number, number];
  assert.ok(small < 100 * MiB, `8 GiB: ${small} bytes allocated`);
  assert.ok(large - small < 8 * MiB, `80 GiB allocates ${((large - small) / MiB).toFixed(1)} MiB more than 8 GiB`);
});
