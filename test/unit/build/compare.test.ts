// Comparing two build outputs (src/build/compare.ts, used by icos verify and icos diff): files
// inside a differing ext4 partition, read back with debugfs; symlinks by target, not by the time
// debugfs gives them when it dumps them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compareBuilds } from "../../../src/build/compare.ts";
import { blockSha256 } from "../../../src/fs/sparse.ts";
import { createDiskImage } from "../../../src/image/disk.ts";
import { buildExt4 } from "../../../src/image/ext4.ts";
import { gptFromLayout } from "../../../src/image/layout-gpt.ts";
import { resolveLayout, validateLayout } from "../../../src/model/layout.ts";
import { scratch } from "../../helpers/tmp.ts";

const layout = resolveLayout(validateLayout({ name: "cmp", partitions: [{ name: "root", type: "linux", size: "8M", filesystem: "ext4", contents: "root" }] }, "test"));

/** An output directory holding disk.img (one ext4 partition made from `files`) and its manifest. */
async function output(dir: string, files: Record<string, string>): Promise<{ outDir: string; manifest: Record<string, unknown> }> {
  const tree = join(dir, "tree");
  mkdirSync(join(tree, "etc"), { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(tree, name), content);
  symlinkSync("../a.txt", join(tree, "etc", "link"));
  const img = join(dir, "root.img");
  await buildExt4({ tree, out: img, sizeBytes: 8 << 20, label: "root", uuid: "0c0c0c0c-0000-4000-8000-000000000001", sourceDateEpoch: 1_700_000_000, blockSize: 1024 });
  const outDir = join(dir, "out");
  mkdirSync(outDir);
  await createDiskImage(join(outDir, "disk.img"), gptFromLayout(layout), [{ index: 1, source: img }]);
  const p = layout.partitions[0]!;
  const manifest = { sha256: {}, blockSha256: { "disk.img": await blockSha256(join(outDir, "disk.img")) }, partitions: [{ index: 1, name: "root", startLba: p.startLba, sizeLba: p.sizeLba, blockSha256: await blockSha256(img) }] };
  return { outDir, manifest };
}

test("two builds that differ in one file and one new file: exactly those, symlinks not reported", async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, "a"));
  mkdirSync(join(dir, "b"));
  const a = await output(join(dir, "a"), { "a.txt": "one\n", "keep.txt": "same\n" });
  const b = await output(join(dir, "b"), { "a.txt": "two\n", "keep.txt": "same\n", "new.txt": "new\n" });
  const r = await compareBuilds(a, b, join(dir, "scratch"));
  assert.equal(r.identical, false);
  assert.match(r.differences[0]!, /^disk\.img: [0-9a-f]{64} vs [0-9a-f]{64}$/);
  assert.equal(r.differences[1], "partition 1 (root) differs in 2 file(s):");
  assert.match(r.differences[2]!, /^  ~ \/a\.txt: mode 100644 owner 0:0 mtime 1700000000 size 4 [0-9a-f]{64} -> .* size 4 [0-9a-f]{64}$/);
  assert.match(r.differences[3]!, /^  \+ \/new\.txt: /);
  assert.equal(r.differences.length, 4);
});

test("a build compared with itself is identical", async (t) => {
  const dir = scratch(t);
  const a = await output(dir, { "a.txt": "one\n" });
  assert.deepEqual(await compareBuilds(a, a, join(dir, "scratch")), { identical: true, differences: [] });
});
