// Sparse files: the block digest agrees with its coreutils definition (the oracle a user has),
// whatever the holes; a copy moves only data; and holes are never read (a 256 GiB hole would
// take minutes to hash byte by byte; the test's timeout catches that).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BLOCK_DIGEST_CHECK, blockSha256, copyDataExtents, dataExtents } from "../../../src/fs/sparse.ts";

function scratch(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "icos-sparse-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A sparse file of `size` with `data` written at each offset. */
function sparseFile(path: string, size: number, writes: [number, Buffer][]): void {
  writeFileSync(path, "");
  truncateSync(path, size);
  const fd = openSync(path, "r+");
  for (const [at, bytes] of writes) writeSync(fd, bytes, 0, bytes.length, at);
  closeSync(fd);
}

const oracle = (path: string): string => execFileSync("sh", ["-c", BLOCK_DIGEST_CHECK.replace("FILE", '"$1"'), "sh", path], { encoding: "utf8" }).split(" ")[0]!;
const MiB = 1 << 20;

test("blockSha256 is what the documented coreutils command computes", async (t) => {
  const dir = scratch(t);
  const cases: [string, number, [number, Buffer][]][] = [
    ["empty", 0, []],
    ["all hole", 5 * MiB, []],
    ["short last block", 3 * MiB + 12345, [[3 * MiB + 100, Buffer.from("tail")]]],
    ["data across a block edge", 8 * MiB, [[2 * MiB - 3, Buffer.from("across the edge")], [6 * MiB, Buffer.alloc(70000, 7)]]],
    ["written zeros", 4 * MiB, [[MiB, Buffer.alloc(MiB)]]],
  ];
  for (const [name, size, writes] of cases) {
    const path = join(dir, name.replace(/ /g, "-"));
    sparseFile(path, size, writes);
    assert.equal(await blockSha256(path), oracle(path), name);
  }
});

test("blockSha256 does not depend on whether zeros are holes", async (t) => {
  const dir = scratch(t);
  const bytes = Buffer.alloc(6 * MiB);
  bytes.write("hello", 4 * MiB + 17);
  writeFileSync(join(dir, "dense"), bytes);
  sparseFile(join(dir, "sparse"), bytes.length, [[4 * MiB + 17, Buffer.from("hello")]]);
  assert.ok(statSync(join(dir, "sparse")).blocks * 512 < MiB, "the sparse file is sparse");
  assert.equal(await blockSha256(join(dir, "sparse")), await blockSha256(join(dir, "dense")));
  bytes.write("!", 5 * MiB);
  writeFileSync(join(dir, "dense"), bytes);
  assert.notEqual(await blockSha256(join(dir, "sparse")), await blockSha256(join(dir, "dense")), "one changed byte changes the digest");
});

test("dataExtents covers every non-zero byte; copyDataExtents moves only data", async (t) => {
  const dir = scratch(t);
  const src = join(dir, "src");
  sparseFile(src, 40 * MiB, [[5, Buffer.from("start")], [17 * MiB + 3, Buffer.alloc(3 * MiB, 0xab)], [40 * MiB - 4, Buffer.from("end!")]]);
  const extents = await dataExtents(src);
  assert.ok(extents.length >= 2);
  const all = readFileSync(src);
  const covered = Buffer.alloc(all.length);
  for (const e of extents) all.copy(covered, e.offset, e.offset, e.offset + e.length);
  assert.ok(covered.equals(all), "outside the extents the file is zeros");

  const dst = join(dir, "dst");
  sparseFile(dst, 64 * MiB, [[0, Buffer.from("header")]]);
  const fh = await open(dst, "r+");
  try {
    await copyDataExtents(fh, src, 8 * MiB);
  } finally {
    await fh.close();
  }
  const got = readFileSync(dst);
  assert.ok(got.subarray(8 * MiB, 48 * MiB).equals(all), "the source's bytes at the offset");
  assert.equal(got.subarray(0, 6).toString(), "header", "bytes before the offset untouched");
  assert.ok(statSync(dst).blocks * 512 < 6 * MiB, `only data was written (${statSync(dst).blocks * 512} bytes allocated)`);
});

test("holes are never read: a 256 GiB sparse file hashes at once", { timeout: 60_000 }, async (t) => {
  const dir = scratch(t);
  const path = join(dir, "huge");
  sparseFile(path, 256 * 2 ** 30, [[100 * 2 ** 30, Buffer.from("needle")]]);
  assert.match(await blockSha256(path), /^[0-9a-f]{64}$/);
});
