import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildVfat, vfatPutFile, vfatReadFile, type VfatOptions } from "../../../src/image/vfat.ts";
import { UserError } from "../../../src/errors.ts";
import { run } from "../../../src/exec.ts";
import { scratch } from "../../helpers/tmp.ts";

const SDE = 1700000000; // 2023-11-14 22:13:20 UTC
const MiB = 2 ** 20;
const ENV = { MTOOLS_SKIP_CHECK: "1", TZ: "UTC" };

function makeTree(dir: string, reverse = false): void {
  mkdirSync(join(dir, "EFI/BOOT"), { recursive: true });
  mkdirSync(join(dir, "grub/fonts"), { recursive: true });
  const names = Array.from({ length: 30 }, (_, i) => `mod${i}.mod`);
  for (const n of reverse ? names.reverse() : names) writeFileSync(join(dir, "grub", n), `module ${n}\n`);
  writeFileSync(join(dir, "EFI/BOOT/BOOTX64.EFI"), Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0xff, 0xfe, 0x80]));
  writeFileSync(join(dir, "grub/grub.cfg"), "set timeout=0\n");
  writeFileSync(join(dir, "grub/A long name with spaces.txt"), "long\n");
}

const opts = (files: VfatOptions["files"], out: string): VfatOptions => ({ out, sizeBytes: 32 * MiB, label: "ESP", volumeId: "1CE50001", files, sourceDateEpoch: SDE });
const sha = (f: string): string => createHash("sha256").update(readFileSync(f)).digest("hex");

test("vfat: the same tree from two directories (other order and mtimes) gives identical bytes", async (t) => {
  const dir = scratch(t);
  makeTree(join(dir, "a"));
  await buildVfat(opts(join(dir, "a"), join(dir, "a.img")));
  await new Promise((r) => setTimeout(r, 1100)); // no wall-clock time may show up
  makeTree(join(dir, "b"), true);
  utimesSync(join(dir, "b/grub/grub.cfg"), 1500000000, 1500000000);
  await buildVfat(opts(join(dir, "b"), join(dir, "b.img")));
  assert.equal(sha(join(dir, "a.img")), sha(join(dir, "b.img")));
  assert.equal(readFileSync(join(dir, "a.img")).length, 32 * MiB);
});

test("vfat: fsck clean; label, volume id, contents and fixed times", async (t) => {
  const dir = scratch(t);
  makeTree(join(dir, "tree"));
  utimesSync(join(dir, "tree/grub/grub.cfg"), 1500000000, 1500000000); // must not leak in
  const img = join(dir, "esp.img");
  const tz = process.env.TZ;
  process.env.TZ = "America/New_York"; // FAT stores local time: the host's zone must not matter
  t.after(() => (tz === undefined ? delete process.env.TZ : (process.env.TZ = tz)));
  await buildVfat(opts(join(dir, "tree"), img));
  await run("fsck.vfat", ["-n", img]);
  const root = (await run("mdir", ["-i", img, "::/"], { env: ENV })).stdout;
  assert.match(root, /Volume in drive : is ESP/);
  assert.match(root, /Volume Serial Number is 1CE5-0001/);
  const grub = (await run("mdir", ["-i", img, "::/grub"], { env: ENV })).stdout;
  assert.match(grub, /grub\s+cfg\s+14 2023-11-14\s+22:13/);
  assert.match(grub, /A long name with spaces\.txt/);
  assert.doesNotMatch(grub, /2017|2026/);
  assert.match((await run("mdir", ["-i", img, "::/EFI"], { env: ENV })).stdout, /BOOT\s+<DIR>\s+2023-11-14\s+22:13/);
  const efi = await vfatReadFile(img, 0, "EFI/BOOT/BOOTX64.EFI");
  assert.deepEqual(efi, readFileSync(join(dir, "tree/EFI/BOOT/BOOTX64.EFI"))); // binary-safe
  assert.equal((await vfatReadFile(img, 0, "/grub/mod7.mod")).toString(), "module mod7.mod\n");
});

test("vfat: a file list may rename files; directories come from the paths", async (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, "grubx64.efi"), "efi");
  writeFileSync(join(dir, "cfg"), "cfg");
  const img = join(dir, "esp.img");
  await buildVfat({ ...opts([{ src: join(dir, "grubx64.efi"), dest: "EFI/BOOT/BOOTX64.EFI" }, { src: join(dir, "cfg"), dest: "cfg" }], img), fatSize: 16 });
  assert.equal((await vfatReadFile(img, 0, "EFI/BOOT/BOOTX64.EFI")).toString(), "efi");
  assert.equal((await vfatReadFile(img, 0, "cfg")).toString(), "cfg");
});

test("vfat: put and read a file inside a disk image at an offset", async (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, "grubenv"), "old");
  const part = join(dir, "part.img");
  await buildVfat({ ...opts([{ src: join(dir, "grubenv"), dest: "grubenv" }], part), sizeBytes: 8 * MiB, label: "GRUB" });
  const offset = 1 * MiB;
  const disk = join(dir, "disk.img");
  writeFileSync(disk, Buffer.concat([Buffer.alloc(offset, 0xaa), readFileSync(part)]));
  writeFileSync(join(dir, "grubenv"), "new contents");
  await vfatPutFile(disk, offset, join(dir, "grubenv"), "/grubenv", { sourceDateEpoch: SDE });
  assert.equal((await vfatReadFile(disk, offset, "grubenv")).toString(), "new contents");
  assert.ok(readFileSync(disk).subarray(0, offset).every((b) => b === 0xaa)); // before the partition: untouched
  writeFileSync(part, readFileSync(disk).subarray(offset));
  await run("fsck.vfat", ["-n", part]);
  await assert.rejects(vfatReadFile(disk, offset, "missing"), /read \/missing from the vfat at offset 1048576 of .*disk\.img failed/);
});

test("vfat: files bigger than the image fail naming image and sizes; nothing left behind", async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, "tree"));
  writeFileSync(join(dir, "tree/blob"), Buffer.alloc(3 * MiB, 1));
  const out = join(dir, "small.img");
  const small = { ...opts(join(dir, "tree"), out), sizeBytes: 2 * MiB };
  await assert.rejects(buildVfat(small), (e: Error) => e instanceof UserError && /small\.img: 1 files \(3\.0 MiB\) do not fit in 2\.0 MiB/.test(e.message));
  // Within the quick estimate, but FAT overhead makes it too big: mcopy's "Disk full" becomes the same error.
  writeFileSync(join(dir, "tree/blob"), Buffer.alloc(2 * MiB - 4096, 1));
  await assert.rejects(buildVfat(small), /small\.img: 1 files \(2\.0 MiB\) do not fit in 2\.0 MiB/);
  assert.deepEqual(readdirSync(dir), ["tree"]);
});

test("vfat: bad labels, ids, names and times are refused before any tool runs", async (t) => {
  const dir = scratch(t);
  makeTree(join(dir, "tree"));
  const base = opts(join(dir, "tree"), join(dir, "x.img"));
  await assert.rejects(buildVfat({ ...base, label: "TOOLONGLABEL" }), /bad label "TOOLONGLABEL"/);
  await assert.rejects(buildVfat({ ...base, label: "esp" }), (e: Error) => e instanceof UserError && /upper case/.test(e.hint ?? ""));
  await assert.rejects(buildVfat({ ...base, volumeId: "1CE5" }), /volumeId must be 8 hex digits, got "1CE5"/);
  await assert.rejects(buildVfat({ ...base, sourceDateEpoch: 0 }), /sourceDateEpoch 0 is outside what FAT can store/);
  await assert.rejects(buildVfat({ ...base, sizeBytes: 1000 }), /multiple of 1024, got 1000/);
  writeFileSync(join(dir, "f"), "");
  await assert.rejects(buildVfat({ ...base, files: [{ src: join(dir, "f"), dest: "../f" }] }), /bad path "..\/f"/);
  await assert.rejects(
    buildVfat({ ...base, files: [{ src: join(dir, "f"), dest: "EFI/x" }, { src: join(dir, "f"), dest: "efi/y" }] }),
    /"EFI" and "efi" are the same name on FAT/,
  );
  symlinkSync("grub.cfg", join(dir, "tree/grub/link"));
  await assert.rejects(buildVfat(base), /grub\/link is not a regular file or directory/);
  assert.deepEqual(readdirSync(dir).sort(), ["f", "tree"]);
});
