// Our dm-verity seal (src/image/verity.ts, src/formats/verity.ts) against the tool that defines the
// format: `veritysetup format` on a copy must give the same bytes and the same root hash, and
// `veritysetup verify` must accept ours and refuse it after one flipped byte.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, copyFileSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { resealVerityRoot, sealVerity, verityIdentity } from "../../../src/image/verity.ts";
import { buildExt4 } from "../../../src/image/ext4.ts";
import { editExt4 } from "../../../src/image/ext4-edit.ts";
import { decodeVeritySuperblock, verityDataBlocksFor, verityGeometry, VERITY_SUPERBLOCK_BYTES } from "../../../src/formats/verity.ts";
import { scratch } from "../../helpers/tmp.ts";

const BS = 4096;
const SALT = Buffer.from("1c05".repeat(16), "hex");
const UUID = "5e1f0000-1c05-4000-8000-00000000ab12";

function veritysetup(args: string[]): { code: number; out: string } {
  const r = spawnSync("veritysetup", args, { encoding: "utf8" });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

/** A sparse image of `blocks` blocks with data written in the given blocks (the rest are holes). */
function sparseImage(path: string, blocks: number, written: number[]): void {
  const fd = openSync(path, "w");
  ftruncateSync(fd, blocks * BS);
  for (const b of written) writeSync(fd, Buffer.alloc(BS, `block ${b};`), 0, BS, b * BS);
  closeSync(fd);
}

const sha = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("dm-verity seal: the bytes of veritysetup format", () => {
  for (const [name, fsBlocks, dataBlocks, totalBlocks, written] of [
    ["one hash level (100 blocks)", 100, 100, 102, [0, 7, 99]],
    ["two levels, file shorter than the data area", 2000, 3000, 3100, [0, 1, 128, 1999]],
    ["three levels, mostly holes (80 MiB)", 20480, 20480, 20700, [0, 5000, 16383, 16384, 20479]],
  ] as const) {
    it(name, async (t) => {
      const dir = scratch(t, "icos-verity-");
      const ours = join(dir, "ours.img");
      const theirs = join(dir, "theirs.img");
      sparseImage(ours, fsBlocks, [...written]);
      copyFileSync(ours, theirs);
      const seal = await sealVerity(ours, totalBlocks * BS, { blockSize: BS, dataBlocks, salt: SALT, uuid: UUID });
      const r = veritysetup(["format", "--hash=sha256", `--data-block-size=${BS}`, `--hash-block-size=${BS}`, `--data-blocks=${dataBlocks}`, `--hash-offset=${dataBlocks * BS}`, `--salt=${SALT.toString("hex")}`, `--uuid=${UUID}`, theirs, theirs]);
      assert.equal(r.code, 0, r.out);
      truncateSync(theirs, totalBlocks * BS);
      assert.equal(seal.rootHash, /Root hash:\s+([0-9a-f]{64})/.exec(r.out)?.[1]);
      assert.equal(seal.hashOffsetBytes, dataBlocks * BS);
      assert.equal(statSync(ours).size, totalBlocks * BS);
      assert.equal(sha(ours), sha(theirs), "same bytes as veritysetup");
      const verify = veritysetup(["verify", `--hash-offset=${dataBlocks * BS}`, ours, ours, seal.rootHash]);
      assert.equal(verify.code, 0, verify.out);
    });
  }

  it("veritysetup verify refuses a flipped data byte, and the superblock decodes", async (t) => {
    const dir = scratch(t, "icos-verity-");
    const img = join(dir, "root.img");
    sparseImage(img, 300, [0, 150]);
    const seal = await sealVerity(img, 310 * BS, { blockSize: BS, dataBlocks: 300, salt: SALT, uuid: UUID });
    const fd = openSync(img, "r+");
    try {
      const got = Buffer.alloc(VERITY_SUPERBLOCK_BYTES);
      readFileSync(img).copy(got, 0, seal.hashOffsetBytes, seal.hashOffsetBytes + VERITY_SUPERBLOCK_BYTES);
      const d = decodeVeritySuperblock(got);
      assert.deepEqual({ ...d, salt: d.salt.toString("hex") }, { algorithm: "sha256", blockSize: BS, dataBlocks: 300, salt: SALT.toString("hex"), uuid: UUID });
      writeSync(fd, Buffer.from("X"), 0, 1, 150 * BS + 17);
    } finally {
      closeSync(fd);
    }
    const verify = veritysetup(["verify", `--hash-offset=${seal.hashOffsetBytes}`, img, img, seal.rootHash]);
    assert.notEqual(verify.code, 0, "a flipped byte must fail verification");
    assert.match(verify.out, /corrupt|fail/i);
  });

  it("a filesystem larger than the data area is refused", async (t) => {
    const img = join(scratch(t, "icos-verity-"), "root.img");
    sparseImage(img, 200, [0]);
    await assert.rejects(sealVerity(img, 300 * BS, { blockSize: BS, dataBlocks: 150, salt: SALT, uuid: UUID }), /larger than the verity data area/);
  });
});

describe("dm-verity geometry", () => {
  it("levels are stored top first, after the superblock's block", () => {
    const g = verityGeometry(BS, 20480); // 160 level-0 blocks, 2 level-1 blocks, 1 top
    assert.deepEqual(g.levelBlocks, [160, 2, 1]);
    assert.deepEqual(g.levelStart, [4, 2, 1]);
    assert.equal(g.totalBlocks, 164);
    assert.deepEqual(verityGeometry(BS, 1).levelBlocks, [1]);
    assert.deepEqual(verityGeometry(BS, 128).levelBlocks, [1]);
    assert.deepEqual(verityGeometry(BS, 129).levelBlocks, [2, 1]);
  });

  it("the data area is the most blocks that fit with their own tree", () => {
    for (const total of [3, 130, 131, 20000, 2621440, 2621441]) {
      const n = verityDataBlocksFor(BS, total);
      assert.ok(n + verityGeometry(BS, n).totalBlocks <= total, `${total}: ${n} fits`);
      assert.ok(n + 1 + verityGeometry(BS, n + 1).totalBlocks > total, `${total}: ${n + 1} would not`);
    }
  });
});

describe("sealing again after an edit (the -test update image)", () => {
  it("the edited root verifies with the new hash in boot_args, not with the old one", async (t) => {
    const dir = scratch(t, "icos-verity-");
    const tree = join(dir, "tree");
    mkdirSync(join(tree, "opt"), { recursive: true });
    writeFileSync(join(tree, "opt/version.txt"), "1.0.0\n");
    const root = join(dir, "root.img");
    const total = 3000 * BS;
    const dataBlocks = verityDataBlocksFor(BS, total / BS);
    await buildExt4({ tree, out: root, sizeBytes: dataBlocks * BS, label: "root", uuid: UUID, sourceDateEpoch: 1700000000, features: ["^has_journal"] });
    const first = await sealVerity(root, total, { blockSize: BS, dataBlocks, ...verityIdentity("guestos") });
    const bootTree = join(dir, "boot");
    mkdirSync(bootTree);
    const args = (hash: string) => `BOOT_ARGS_A="root=PARTUUID=x dfinity.system=A root_hash=${hash} root_hash_offset=${first.hashOffsetBytes} ro"\nBOOT_ARGS_B="root=PARTUUID=y dfinity.system=B root_hash=${hash} root_hash_offset=${first.hashOffsetBytes} ro"\n`;
    writeFileSync(join(bootTree, "boot_args"), args(first.rootHash));
    const boot = join(dir, "boot.img");
    await buildExt4({ tree: bootTree, out: boot, sizeBytes: 1024 * BS, label: "boot", uuid: UUID, sourceDateEpoch: 1700000000 });

    await editExt4(root, [{ type: "file", path: "/opt/version.txt", content: "1.0.0-test\n" }], { sourceDateEpoch: 1700000000 });
    const verifyWith = (hash: string) => veritysetup(["verify", `--hash-offset=${first.hashOffsetBytes}`, root, root, hash]).code;
    assert.notEqual(verifyWith(first.rootHash), 0, "the edit broke the old tree");
    const again = await resealVerityRoot(boot, root, "guestos", 1700000000);
    assert.ok(again && again !== first.rootHash);
    assert.equal(verifyWith(again), 0);
    const bootArgs = spawnSync("debugfs", ["-R", "cat /boot_args", boot], { encoding: "utf8" }).stdout;
    assert.equal(bootArgs, args(again), "both slots' lines carry the new hash");
    assert.equal(statSync(root).size, total);
  });

  it("a boot image without a root hash is left alone", async (t) => {
    const dir = scratch(t, "icos-verity-");
    const bootTree = join(dir, "boot");
    mkdirSync(bootTree);
    writeFileSync(join(bootTree, "boot_args"), 'BOOT_ARGS_A="root=PARTUUID=x rw"\n');
    const boot = join(dir, "boot.img");
    await buildExt4({ tree: bootTree, out: boot, sizeBytes: 1024 * BS, label: "boot", uuid: UUID, sourceDateEpoch: 1700000000 });
    const before = sha(boot);
    assert.equal(await resealVerityRoot(boot, join(dir, "no-root.img"), "guestos", 1700000000), undefined);
    assert.equal(sha(boot), before);
  });
});
