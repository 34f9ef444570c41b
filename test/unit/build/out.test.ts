// out/<os>/<variant>/ is "up to date" only when it holds every file the build lists, with the
// right size (and, for small files, the right sha256; a large one is the store's file, a hard
// link, or a copy with its mtime), not merely the same manifest.json.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { execFileSync } from "node:child_process";
import { outOfDate, writeOut } from "../../../src/build/pipeline.ts";
import { BLOCK_DIGEST_CHECK, blockSha256 } from "../../../src/fs/sparse.ts";
import { scratch } from "../../helpers/tmp.ts";

const MiB = 1024 * 1024;
const sha = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");

/** What a build hands writeOut: a large sparse disk.img and a small archive in the "store", their sums, a manifest. */
async function written(t: TestContext) {
  const dir = scratch(t);
  const src = join(dir, "store");
  mkdirSync(src);
  writeFileSync(join(src, "disk.img"), "a disk");
  truncateSync(join(src, "disk.img"), 3 * MiB); // above the size whose sha256 is checked
  writeFileSync(join(src, "update-img.tar.zst"), "an update");
  const files = { "disk.img": join(src, "disk.img"), "update-img.tar.zst": join(src, "update-img.tar.zst") };
  const sums = { sha256: { "update-img.tar.zst": sha("an update") }, blockSha256: { "disk.img": await blockSha256(files["disk.img"]) } };
  const manifest = JSON.stringify({ target: "guestos/dev", sha256: sums }, null, 2) + "\n";
  const out = join(dir, "out", "guestos", "dev");
  await writeOut(out, files, sums, manifest);
  assert.equal(await outOfDate(out, files, sums, manifest), undefined);
  return { out, files, sums, manifest };
}

test("out: what writeOut wrote is up to date; nothing is left beside it", async (t) => {
  const { out, sums } = await written(t);
  assert.equal(readFileSync(join(out, "SHA256SUMS"), "utf8"), `${sums.sha256["update-img.tar.zst"]}  update-img.tar.zst\n`);
  const blocks = readFileSync(join(out, "BLOCKSUMS"), "utf8");
  assert.ok(blocks.endsWith(`${sums.blockSha256["disk.img"]}  disk.img\n`), blocks);
  // The check BLOCKSUMS documents, run by coreutils on the published disk.img, gives the same digest.
  const check = /^# .*: (split .*)$/m.exec(blocks)![1]!;
  assert.equal(check, BLOCK_DIGEST_CHECK);
  assert.equal(execFileSync("sh", ["-c", check.replace("FILE", "disk.img")], { cwd: out, encoding: "utf8" }).split(" ")[0], sums.blockSha256["disk.img"]);
  assert.deepEqual(readdirSync(dirname(out)), ["dev"]);
});

test("out: the files are hard links to the store's: publishing copies no bytes", async (t) => {
  const { out, files } = await written(t);
  for (const [name, src] of Object.entries(files)) assert.equal(statSync(join(out, name)).ino, statSync(src).ino, name);
});

test("out: a large file replaced by another of the same size (same manifest) is not up to date, and writeOut repairs it", async (t) => {
  const { out, files, sums, manifest } = await written(t);
  const other = join(out, "other.img");
  writeFileSync(other, "another disk");
  truncateSync(other, 3 * MiB);
  utimesSync(other, 0, 0);
  renameSync(other, join(out, "disk.img"));
  assert.equal(await outOfDate(out, files, sums, manifest), "disk.img is not the one the stage store holds");
  await writeOut(out, files, sums, manifest);
  assert.equal(await outOfDate(out, files, sums, manifest), undefined);
  assert.equal(await blockSha256(join(out, "disk.img")), sums.blockSha256["disk.img"]);
});

test("out: a truncated large file (same manifest) is not up to date", async (t) => {
  const { out, files, sums, manifest } = await written(t);
  rmSync(join(out, "disk.img"));
  writeFileSync(join(out, "disk.img"), "a disk");
  assert.equal(await outOfDate(out, files, sums, manifest), "disk.img is 6 bytes, expected " + 3 * MiB);
});

test("out: a deleted file is not up to date", async (t) => {
  const { out, files, sums, manifest } = await written(t);
  rmSync(join(out, "update-img.tar.zst"));
  assert.equal(await outOfDate(out, files, sums, manifest), "update-img.tar.zst is missing");
});

test("out: a small file of the right size but other bytes is not up to date (its sha256 is checked)", async (t) => {
  const { out, files, sums, manifest } = await written(t);
  writeFileSync(join(out, "update-img.tar.zst"), "AN UPDATE");
  assert.match((await outOfDate(out, files, sums, manifest))!, /^update-img\.tar\.zst's sha256 is not /);
});

test("out: another manifest, none, or an edited SHA256SUMS or BLOCKSUMS is not up to date", async (t) => {
  const { out, files, sums, manifest } = await written(t);
  assert.equal(await outOfDate(out, files, sums, manifest.replace("guestos/dev", "guestos/prod")), "manifest.json is another build's");
  writeFileSync(join(out, "BLOCKSUMS"), "");
  assert.equal(await outOfDate(out, files, sums, manifest), "BLOCKSUMS differs");
  writeFileSync(join(out, "SHA256SUMS"), "");
  assert.equal(await outOfDate(out, files, sums, manifest), "SHA256SUMS differs");
  rmSync(join(out, "manifest.json"));
  assert.equal(await outOfDate(out, files, sums, manifest), "no manifest.json");
});
