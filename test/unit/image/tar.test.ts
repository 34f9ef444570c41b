import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { dataRegions, sparseMap, writeTar } from "../../../src/image/tar.ts";
import { UserError } from "../../../src/errors.ts";
import { run } from "../../../src/exec.ts";
import { scratch } from "../../helpers/tmp.ts";
import { blockSha256 } from "../../../src/fs/sparse.ts";

const MTIME = 1700000000;
const MiB = 2 ** 20;
const sha = (f: string): string => createHash("sha256").update(readFileSync(f)).digest("hex");

/** Write `data` at each offset of a file of `size` bytes; the rest is a real hole unless `dense`. */
function patchwork(path: string, size: number, parts: [number, Buffer][], dense = false): void {
  if (dense) writeFileSync(path, Buffer.alloc(size));
  const fd = openSync(path, dense ? "r+" : "w");
  for (const [off, data] of parts) writeSync(fd, data, 0, data.length, off);
  closeSync(fd);
  truncateSync(path, size);
}

function makeTree(dir: string, { reverse = false, dense = false } = {}): void {
  mkdirSync(join(dir, "d/e"), { recursive: true });
  const names = ["b", "a-b", "a", "Z", "é"];
  for (const n of reverse ? [...names].reverse() : names) writeFileSync(join(dir, n), `file ${n}\n`);
  writeFileSync(join(dir, "d/e/run"), "#!/bin/sh\n");
  chmodSync(join(dir, "d/e/run"), 0o4750);
  symlinkSync("../a", join(dir, "d/link"));
  const x = Buffer.from("data");
  // 40 MiB disk image: data at the start, in the middle (unaligned), and a hole at the end.
  patchwork(join(dir, "d/disk.img"), 40 * MiB, [[0, x], [20 * MiB + 100, x], [30 * MiB, Buffer.alloc(10000, 1)]], dense);
  patchwork(join(dir, "tail"), MiB + 3 * 4096 + 10, [[MiB + 3 * 4096 + 5, x]], dense); // data in a partial last block
}

async function extractAndCompare(archive: string, src: string, dir: string, flags: string[] = []): Promise<void> {
  mkdirSync(dir);
  await run("tar", [...flags, "-C", dir, "-xf", archive]);
  const { stdout } = await run("sh", ["-c", 'cd "$1" && find . -type f | LC_ALL=C sort | xargs sha256sum', "sh", src]);
  const restored = await run("sh", ["-c", 'cd "$1" && find . -type f | LC_ALL=C sort | xargs sha256sum', "sh", dir]);
  assert.equal(restored.stdout, stdout);
  const img = statSync(join(dir, "d/disk.img"));
  assert.equal(img.size, 40 * MiB);
  assert.ok(img.blocks * 512 < 1 * MiB, `d/disk.img restored with ${img.blocks} blocks: not sparse`);
  assert.equal(statSync(join(dir, "d/e/run")).mode & 0o7777, 0o4750);
  assert.equal(statSync(join(dir, "tail")).size, MiB + 3 * 4096 + 10);
}

test("tar: GNU tar restores every file byte for byte, the sparse ones sparse and full-sized", async (t) => {
  const dir = scratch(t);
  makeTree(join(dir, "src"));
  await writeTar({ out: join(dir, "a.tar"), fromDir: join(dir, "src"), mtime: MTIME, sparse: true });
  await extractAndCompare(join(dir, "a.tar"), join(dir, "src"), join(dir, "x"));
  assert.ok(statSync(join(dir, "a.tar")).size < 1 * MiB, "holes were stored as data");
  await writeTar({ out: join(dir, "a.tar.zst"), fromDir: join(dir, "src"), mtime: MTIME, sparse: true, compress: "zstd" });
  await extractAndCompare(join(dir, "a.tar.zst"), join(dir, "src"), join(dir, "z"), ["--zstd"]);
});

test("tar: listing is sorted bytewise, owner 0/0, one mtime, modes kept", async (t) => {
  const dir = scratch(t);
  makeTree(join(dir, "src"));
  const out = join(dir, "a.tar");
  await writeTar({ out, fromDir: join(dir, "src"), mtime: MTIME, sparse: true });
  const lines = (await run("tar", ["-tvf", out], { env: { TZ: "UTC" } })).stdout.trimEnd().split("\n");
  const names = lines.map((l) => l.split(/\s+/).slice(5).join(" "));
  assert.deepEqual(names, ["Z", "a", "a-b", "b", "d/", "d/disk.img", "d/e/", "d/e/run", "d/link -> ../a", "tail", "\\303\\251"]); // é, quoted by tar under LC_ALL=C
  for (const l of lines) assert.match(l, /^\S+ 0\/0 +\d+ 2023-11-14 22:13 /);
  assert.match(lines[7]!, /^-rwsr-x--- /);
  assert.match(lines[5]!, /^-rw-r--r-- 0\/0 +41943040 /); // the real size, not the stored one
});

test("tar: the same content from another directory (other mtimes, order, real zeros) gives identical archives", async (t) => {
  const dir = scratch(t);
  makeTree(join(dir, "one"));
  makeTree(join(dir, "two"), { reverse: true, dense: true }); // zeros written, not holes
  assert.ok(statSync(join(dir, "two/d/disk.img")).blocks * 512 >= 40 * MiB);
  utimesSync(join(dir, "two/a"), 1234567890, 1234567890);
  for (const compress of ["none", "zstd"] as const) {
    await writeTar({ out: join(dir, `1.${compress}`), fromDir: join(dir, "one"), mtime: MTIME, sparse: true, compress });
    await writeTar({ out: join(dir, `2.${compress}`), fromDir: join(dir, "two"), mtime: MTIME, sparse: true, compress });
    assert.equal(sha(join(dir, `1.${compress}`)), sha(join(dir, `2.${compress}`)), compress);
  }
});

test("tar: hole map is 4096-block based and ends at the real size", async (t) => {
  const dir = scratch(t);
  const regions = async (size: number, parts: [number, Buffer][]) => {
    const f = join(dir, "f");
    patchwork(f, size, parts);
    const fh = await open(f);
    try {
      return await dataRegions(fh, size);
    } finally {
      await fh.close();
    }
  };
  const x = Buffer.from("x");
  assert.deepEqual(await regions(16384, [[5000, x], [8192, x]]), [{ offset: 4096, length: 8192 }, { offset: 16384, length: 0 }]);
  assert.deepEqual(await regions(10000, [[9999, x]]), [{ offset: 8192, length: 1808 }]);
  assert.deepEqual(await regions(8192, []), [{ offset: 8192, length: 0 }]);
  // GNU tar restores a file that ends in a hole to its full size only with this last empty region.
  assert.equal(sparseMap([{ offset: 4096, length: 8192 }, { offset: 16384, length: 0 }]).toString().replace(/\0+$/, ""), "2\n4096\n8192\n16384\n0\n");
  assert.equal(sparseMap([{ offset: 0, length: 1 }]).length, 512);
});

test("tar: explicit entries are renamed, sorted and checked", async (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, "built.img"), "image");
  const out = join(dir, "art.tar");
  await writeTar({
    out,
    mtime: MTIME,
    sparse: false,
    entries: [
      { path: "os/disk.img", type: "file", source: join(dir, "built.img"), mode: 0o600 },
      { path: "os", type: "directory" },
      { path: "os/latest", type: "symlink", target: "disk.img" },
    ],
  });
  const list = (await run("tar", ["-tvf", out], { env: { TZ: "UTC" } })).stdout;
  assert.match(list, /^drwxr-xr-x 0\/0 .* os\/\n-rw------- 0\/0 +5 .* os\/disk\.img\nlrwxrwxrwx 0\/0 .* os\/latest -> disk\.img\n$/);
  const file = { type: "file" as const, source: join(dir, "built.img") };
  await assert.rejects(writeTar({ out, mtime: MTIME, sparse: false, entries: [{ ...file, path: "../x" }] }), /bad member path "\.\.\/x"/);
  await assert.rejects(writeTar({ out, mtime: MTIME, sparse: false, entries: [{ ...file, path: "x" }, { ...file, path: "x" }] }), /member "x" given twice/);
  await assert.rejects(writeTar({ out, mtime: MTIME, sparse: false, zstdLevel: 30, entries: [] }), /zstdLevel must be 1-19, got 30/);
});

test("tar: a special file is refused by path; the previous archive stays and no temp is left", async (t) => {
  const dir = scratch(t);
  makeTree(join(dir, "src"));
  await run("mkfifo", [join(dir, "src/d/fifo")]);
  const out = join(dir, "a.tar.zst");
  writeFileSync(out, "previous");
  await assert.rejects(writeTar({ out, fromDir: join(dir, "src"), mtime: MTIME, sparse: true, compress: "zstd" }), (e: Error) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /src\/d\/fifo is not a regular file, directory or symlink/);
    return true;
  });
  assert.equal(readFileSync(out, "utf8"), "previous");
  assert.deepEqual(readdirSync(dir).sort(), ["a.tar.zst", "src"]);
});

test("tar: a large file streams through in chunks", async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, "src"));
  patchwork(join(dir, "src/big.img"), 512 * MiB, [[100 * MiB, Buffer.from("x")]]);
  const before = process.resourceUsage().maxRSS;
  await writeTar({ out: join(dir, "big.tar"), fromDir: join(dir, "src"), mtime: MTIME, sparse: false });
  const grewKiB = process.resourceUsage().maxRSS - before;
  assert.ok(grewKiB < 128 * 1024, `peak RSS grew by ${grewKiB} KiB archiving 512 MiB`);
  assert.equal(statSync(join(dir, "big.tar")).size, 512 * MiB + 512 + 1024);
});

test("tar: a full file system is a clear error (no crash from a destroyed member stream), and no temp is left", async (t) => {
  const dir = scratch(t);
  const small = join(dir, "small");
  mkdirSync(small);
  // A 1 MiB tmpfs: root only (CI and the dev machine run the tests as root).
  const mounted = await run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", small], { allowFailure: true });
  if (mounted.code !== 0) return t.skip(`cannot mount a tmpfs here: ${mounted.stderr.trim()}`);
  try {
    const big = join(dir, "big");
    writeFileSync(big, Buffer.alloc(4 * MiB, 0x5a));
    await assert.rejects(
      writeTar({ out: join(small, "x.tar"), entries: [{ path: "big", type: "file", source: big }], mtime: MTIME, compress: "none", sparse: true }),
      (e: unknown) => e instanceof UserError && /small\/x\.tar: no space left on the device/.test(e.message),
    );
    assert.deepEqual(readdirSync(small), []);
  } finally {
    await run("umount", [small]); // before scratch's cleanup removes the directory
  }
});

test("tar: a sparse member's holes are never read (a 128 GiB disk image archives at once) and GNU tar restores it", { timeout: 60_000 }, async (t) => {
  const dir = scratch(t);
  const img = join(dir, "disk.img");
  writeFileSync(img, "");
  truncateSync(img, 128 * 2 ** 30);
  const fd = openSync(img, "r+");
  writeSync(fd, Buffer.alloc(8192, 1), 0, 8192, 3 * MiB + 4096);
  writeSync(fd, Buffer.alloc(4096, 2), 0, 4096, 100 * 2 ** 30);
  closeSync(fd);
  const out = join(dir, "disk.tar");
  await writeTar({ out, entries: [{ path: "disk.img", type: "file", source: img }], mtime: MTIME, sparse: true });
  assert.ok(statSync(out).size < MiB, `${statSync(out).size} bytes`);
  mkdirSync(join(dir, "x"));
  await run("tar", ["-xf", out, "-C", join(dir, "x")]);
  assert.equal(await blockSha256(join(dir, "x", "disk.img")), await blockSha256(img));
});
