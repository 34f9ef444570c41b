// Our inode-time edit (src/image/ext4-times.ts, src/formats/ext4-inodes.ts) against the tool that defines it: debugfs's `sif PATH atime|mtime|ctime @T`
// on every entry (and `sif <2> mode`) must give the same bytes, and e2fsck must find nothing.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setInodeTimes } from "../../../src/image/ext4-times.ts";
import { listTree } from "../../../src/fs/files.ts";
import { debugfsTimes, RESET_LIFETIME_WRITES, runDebugfsScript } from "../../../src/image/debugfs.ts";
import { scratch } from "../../helpers/tmp.ts";

const SDE = 1700000000;

function mke2fs(tree: string, out: string, blockSize: number, blocks: number, features = "metadata_csum"): void {
  const r = spawnSync("mke2fs", ["-q", "-F", "-t", "ext4", "-I", "256", "-b", String(blockSize), "-O", features, "-d", tree, "-U", "0f0e0d0c-0000-4000-8000-000000000009", "-E", "root_owner=0:0", out, String(blocks)], {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: String(SDE), MKE2FS_CONFIG: "/dev/null" },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
}

/** A tree with many files (several groups' worth on a small filesystem) and times far from SDE. */
function makeTree(dir: string): void {
  for (let d = 0; d < 12; d++) {
    mkdirSync(join(dir, `d${d}`, "sub"), { recursive: true });
    for (let f = 0; f < 60; f++) writeFileSync(join(dir, `d${d}`, f % 2 ? `f${f}` : `sub/f${f}`), `file ${d}/${f}\n`.repeat(f));
  }
  symlinkSync("d0/f1", join(dir, "link"));
  writeFileSync(join(dir, 'odd "name"'), "x");
  utimesSync(join(dir, "d3/f5"), new Date("2031-05-06T07:08:09.123Z"), new Date("1999-01-02T03:04:05.678Z"));
}

async function debugfsWay(image: string, tree: string, rootMode: number): Promise<void> {
  const entries = await listTree(tree);
  const cmds = ["", ...entries.map((e) => e.path)].flatMap((p) => debugfsTimes(`/${p}`, SDE));
  cmds.push(`sif <2> mode 0${(0o40000 | rootMode).toString(8)}`);
  await runDebugfsScript(image, cmds, { sourceDateEpoch: SDE, context: "debugfs way" });
}

/** Lifetime writes count each session's own writes: one equal session at the end makes them comparable. */
const resetWrites = (image: string) => runDebugfsScript(image, [RESET_LIFETIME_WRITES], { sourceDateEpoch: SDE, context: "reset" });

describe("ext4 inode times", () => {
  for (const [blockSize, blocks, features] of [
    [4096, 4096, "metadata_csum"],
    [1024, 40 * 1024, "metadata_csum"],
    [1024, 20 * 1024, "^metadata_csum"],
  ] as const) {
    it(`gives debugfs's bytes and a clean e2fsck (${blockSize}-byte blocks, ${blocks} blocks, ${features})`, async (t) => {
      const dir = scratch(t);
      const tree = join(dir, "tree");
      makeTree(tree);
      const ours = join(dir, "ours.img");
      const theirs = join(dir, "theirs.img");
      mke2fs(tree, ours, blockSize, blocks, features);
      copyFileSync(ours, theirs);
      // The source times reached the image: there is something to change.
      assert.doesNotMatch(spawnSync("debugfs", ["-R", "stat /d3/f5", ours], { encoding: "utf8" }).stdout, new RegExp(`mtime: 0x${SDE.toString(16)}`));

      const changed = await setInodeTimes(ours, SDE, { rootMode: 0o700 });
      assert.ok(changed > 12 * 62, `${changed} inodes set`);
      await debugfsWay(theirs, tree, 0o700);
      await resetWrites(ours);
      await resetWrites(theirs);
      assert.ok(readFileSync(ours).equals(readFileSync(theirs)), "the image differs from debugfs's edit");

      const fsck = spawnSync("e2fsck", ["-fn", ours], { encoding: "utf8" });
      assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
      const stat = spawnSync("debugfs", ["-R", "stat /d3/f5", ours], { encoding: "utf8" }).stdout;
      for (const f of ["atime", "mtime", "ctime"]) assert.match(stat, new RegExp(`\\b${f}: 0x${SDE.toString(16)}(:00000000)? `), f);
      assert.match(spawnSync("debugfs", ["-R", "stat <2>", ours], { encoding: "utf8" }).stdout, /Mode:\s+0700/);
    });
  }

  it("refuses a file that is not ext2/3/4", async (t) => {
    const f = join(scratch(t), "zeros.img");
    writeFileSync(f, Buffer.alloc(8192));
    await assert.rejects(setInodeTimes(f, SDE), { name: "UserError", message: /zeros\.img: ext4: no superblock/ });
  });
});
