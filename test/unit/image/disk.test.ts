// Disk images: icos writes, the real tools read (sgdisk -v/-p/-i, sfdisk --json, blkid), and the
// reverse: sgdisk writes, icos reads (and our encoder gives sgdisk's exact bytes).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../../src/exec.ts";
import { nameGuid } from "../../../src/formats/guid.ts";
import { GPT_ATTRIBUTES, PARTITION_TYPES, encodeGpt, type GptDisk } from "../../../src/formats/gpt.ts";
import { createDiskImage, readGpt } from "../../../src/image/disk.ts";

const MiB = 1024 * 1024;
const SECTOR = 512;
const lbas = (bytes: number) => bytes / SECTOR;

// 64 MiB, four partitions at 1 MiB boundaries; the last one runs to the last usable LBA.
const DISK: GptDisk = {
  sectorSize: SECTOR,
  sizeBytes: 64 * MiB,
  diskGuid: nameGuid("disk-test", "disk"),
  entryCount: 128,
  entrySize: 128,
  partitions: [
    { index: 1, typeGuid: PARTITION_TYPES.esp, partGuid: nameGuid("disk-test", "esp"), firstLba: 2048, lastLba: 34815, attributes: 0n, name: "ESP" },
    {
      index: 2,
      typeGuid: PARTITION_TYPES.linux,
      partGuid: nameGuid("disk-test", "root_a"),
      firstLba: 34816,
      lastLba: 67583,
      attributes: GPT_ATTRIBUTES.legacyBiosBootable,
      name: "root_a",
    },
    { index: 3, typeGuid: PARTITION_TYPES.lvm, partGuid: nameGuid("disk-test", "hostlvm"), firstLba: 67584, lastLba: 100351, attributes: 0n, name: "hostlvm" },
    { index: 4, typeGuid: PARTITION_TYPES.msdata, partGuid: nameGuid("disk-test", "config"), firstLba: 100352, lastLba: 131038, attributes: 0n, name: "config" },
  ],
};
const SGDISK_CODES: Record<number, string> = { 1: "EF00", 2: "8300", 3: "8E00", 4: "0700" };

function readRange(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(length);
    assert.equal(readSync(fd, buf, 0, length, offset), length);
    return buf;
  } finally {
    closeSync(fd);
  }
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("createDiskImage: icos writes, real tools read", () => {
  let dir = "";
  let disk = "";
  let rootSrc = "";
  let configSrc = "";

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "icos-disk-"));
    disk = join(dir, "disk.img");
    await run("mkfs.vfat", ["-C", "-i", "1234ABCD", "-n", "ESP", join(dir, "esp.img"), "8192"]);
    // root: data at the start and a marker at 3 MiB, zeros between (must stay holes).
    rootSrc = join(dir, "root.img");
    const root = Buffer.alloc(4 * MiB);
    for (let i = 0; i < MiB; i++) root[i] = (i * 7 + 1) & 0xff;
    root.write("ICOS-MARKER", 3 * MiB + 12345);
    writeFileSync(rootSrc, root);
    // config: 100 KiB, not a multiple of the 64 KiB hole chunk.
    configSrc = join(dir, "config.img");
    writeFileSync(configSrc, Buffer.alloc(100 * 1024, 0xab));
    await createDiskImage(disk, DISK, [
      { index: 1, source: join(dir, "esp.img") },
      { index: 2, source: rootSrc },
      { index: 3 },
      { index: 4, source: configSrc },
    ]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("sgdisk -v finds no problems", async () => {
    const r = await run("sgdisk", ["-v", disk]);
    assert.match(r.stdout, /No problems found/);
  });

  test("sgdisk -p shows our disk GUID, usable range and each partition's start, end, type and name", async () => {
    const out = (await run("sgdisk", ["-p", disk])).stdout;
    assert.match(out, new RegExp(`Disk identifier \\(GUID\\): ${DISK.diskGuid}`));
    assert.match(out, /First usable sector is 34, last usable sector is 131038/);
    const rows = [...out.matchAll(/^\s*(\d+)\s+(\d+)\s+(\d+)\s+[\d.]+ \S+\s+([0-9A-F]{4})  (.*)$/gm)].map((m) => m.slice(1, 6));
    assert.deepEqual(
      rows,
      DISK.partitions.map((p) => [String(p.index), String(p.firstLba), String(p.lastLba), SGDISK_CODES[p.index], p.name]),
    );
  });

  test("sgdisk -i N shows the same type GUID, partition GUID, sectors, attributes and name", async () => {
    for (const p of DISK.partitions) {
      const out = (await run("sgdisk", ["-i", String(p.index), disk])).stdout;
      assert.match(out, new RegExp(`Partition GUID code: ${p.typeGuid} `));
      assert.match(out, new RegExp(`Partition unique GUID: ${p.partGuid}\n`));
      assert.match(out, new RegExp(`First sector: ${p.firstLba} `));
      assert.match(out, new RegExp(`Last sector: ${p.lastLba} `));
      assert.match(out, new RegExp(`Attribute flags: ${p.attributes.toString(16).padStart(16, "0")}\n`));
      assert.match(out, new RegExp(`Partition name: '${p.name}'\n`));
    }
  });

  test("sfdisk --json agrees", async () => {
    const table = JSON.parse((await run("sfdisk", ["--json", disk])).stdout).partitiontable;
    assert.equal(table.label, "gpt");
    assert.equal(table.id, DISK.diskGuid);
    assert.equal(table.firstlba, 34);
    assert.equal(table.lastlba, 131038);
    assert.deepEqual(
      table.partitions.map((p: Record<string, unknown>) => [p.start, p.size, p.type, p.uuid, p.name, p.attrs]),
      DISK.partitions.map((p) => [p.firstLba, p.lastLba - p.firstLba + 1, p.typeGuid, p.partGuid, p.name, p.attributes ? "LegacyBIOSBootable" : undefined]),
    );
  });

  test("blkid finds the ESP's vfat at partition 1's offset and the table on the whole disk", async () => {
    const esp = DISK.partitions[0]!;
    const r = await run("blkid", ["-p", "-O", String(esp.firstLba * SECTOR), "-S", String(16 * MiB), "-o", "export", disk]);
    assert.match(r.stdout, /^TYPE=vfat$/m);
    assert.match(r.stdout, /^UUID=1234-ABCD$/m);
    const whole = await run("blkid", ["-p", "-o", "export", disk]);
    assert.match(whole.stdout, /^PTTYPE=gpt$/m);
    assert.match(whole.stdout, new RegExp(`^PTUUID=${DISK.diskGuid.toLowerCase()}$`, "m"));
  });

  test("each partition holds its source's bytes at its offset, zero after", () => {
    for (const [index, src] of [[2, rootSrc], [4, configSrc]] as const) {
      const p = DISK.partitions[index - 1]!;
      const want = readFileSync(src);
      assert.ok(readRange(disk, p.firstLba * SECTOR, want.length).equals(want), `partition ${index} content`);
      assert.ok(readRange(disk, p.firstLba * SECTOR + want.length, 4096).every((b) => b === 0), `partition ${index} tail`);
    }
    const lvm = DISK.partitions[2]!;
    assert.ok(readRange(disk, lvm.firstLba * SECTOR, 16 * MiB).every((b) => b === 0));
  });

  test("the disk file is sparse", () => {
    const st = statSync(disk);
    assert.equal(st.size, 64 * MiB);
    // Non-zero data: ~1 MiB root, 100 KiB config, the FAT metadata, the GPT. 4 MiB leaves slack
    // for file-system block rounding but fails if any partition was written out in full.
    assert.ok(st.blocks * 512 < 4 * MiB, `allocated ${st.blocks * 512} bytes`);
  });

  test("readGpt gives back the GptDisk we wrote", () => {
    const r = readGpt(disk);
    assert.deepEqual(r.disk, DISK);
    assert.deepEqual(r.warnings, []);
  });

  test("writing the same GptDisk and sources twice gives identical bytes", async () => {
    const again = join(dir, "again.img");
    await createDiskImage(again, DISK, [{ index: 2, source: rootSrc }, { index: 1, source: join(dir, "esp.img") }, { index: 4, source: configSrc }]);
    assert.equal(sha256(again), sha256(disk));
  });

  test("a partition image larger than its partition is refused, naming it and both sizes; nothing left behind", async () => {
    const big = join(dir, "big.img");
    writeFileSync(big, Buffer.alloc(16 * MiB + 512));
    const target = join(dir, "too-big.img");
    await assert.rejects(createDiskImage(target, DISK, [{ index: 3, source: big }]), {
      name: "UserError",
      message: /partition 3 \(hostlvm\): image .*big\.img is 16777728 bytes \(16\.0 MiB\), larger than the partition's 16777216 bytes/,
    });
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith("too-big")), []);
  });

  test("an unknown slot or a missing source is refused", async () => {
    await assert.rejects(createDiskImage(join(dir, "x.img"), DISK, [{ index: 9, source: rootSrc }]), /no partition 9 in the GPT/);
    await assert.rejects(createDiskImage(join(dir, "x.img"), DISK, [{ index: 1, source: join(dir, "nope.img") }]), /partition 1 \(ESP\): image .*nope\.img is not a regular file/);
  });

  test("a failure after writing started (rename onto a directory) leaves no .tmp- file", async () => {
    const target = join(dir, "occupied");
    mkdirSync(target);
    writeFileSync(join(target, "keep"), "x");
    await assert.rejects(createDiskImage(target, DISK, [{ index: 2, source: rootSrc }]), { code: /EISDIR|ENOTEMPTY|EEXIST/ });
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes(".tmp-")), []);
  });
});

describe("readGpt: sgdisk writes, icos reads", () => {
  let dir = "";
  let disk = "";
  const guid = (n: string) => nameGuid("sgdisk-test", n);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "icos-sgdisk-"));
    disk = join(dir, "disk.img");
    await run("truncate", ["-s", "32M", disk]);
    // Slot 4 is placed before slot 3 on the disk: slots and disk order are different things.
    await run("sgdisk", [
      `--disk-guid=${guid("disk")}`,
      ...["-n", "1:2048:+4M", "-t", "1:ef00", "-c", "1:EFI system", "-u", `1:${guid("1")}`],
      ...["-n", "2:0:+8M", "-t", "2:8300", "-c", "2:root_b", "-u", `2:${guid("2")}`, "-A", "2:set:2", "-A", "2:set:63"],
      ...["-n", "4:0:+4M", "-t", "4:8e00", "-c", "4:lvm", "-u", `4:${guid("4")}`],
      ...["-n", "3:0:0", "-t", "3:0700", "-c", "3:data", "-u", `3:${guid("3")}`],
      disk,
    ]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const expected: GptDisk = {
    sectorSize: SECTOR,
    sizeBytes: 32 * MiB,
    diskGuid: nameGuid("sgdisk-test", "disk"),
    entryCount: 128,
    entrySize: 128,
    partitions: [
      { index: 1, typeGuid: PARTITION_TYPES.esp, partGuid: nameGuid("sgdisk-test", "1"), firstLba: 2048, lastLba: 2048 + lbas(4 * MiB) - 1, attributes: 0n, name: "EFI system" },
      {
        index: 2,
        typeGuid: PARTITION_TYPES.linux,
        partGuid: nameGuid("sgdisk-test", "2"),
        firstLba: 10240,
        lastLba: 10240 + lbas(8 * MiB) - 1,
        attributes: GPT_ATTRIBUTES.legacyBiosBootable | (1n << 63n),
        name: "root_b",
      },
      { index: 3, typeGuid: PARTITION_TYPES.msdata, partGuid: nameGuid("sgdisk-test", "3"), firstLba: 34816, lastLba: lbas(32 * MiB) - 34, attributes: 0n, name: "data" },
      { index: 4, typeGuid: PARTITION_TYPES.lvm, partGuid: nameGuid("sgdisk-test", "4"), firstLba: 26624, lastLba: 26624 + lbas(4 * MiB) - 1, attributes: 0n, name: "lvm" },
    ],
  };

  test("readGpt parses sgdisk's table with the same values", () => {
    const r = readGpt(disk);
    assert.deepEqual(r.disk, expected);
    assert.equal(r.firstUsableLba, 34);
    assert.equal(r.lastUsableLba, lbas(32 * MiB) - 34);
    assert.deepEqual(r.warnings, []);
  });

  test("encodeGpt of the same values gives sgdisk's exact bytes", () => {
    for (const region of encodeGpt(expected)) {
      assert.ok(readRange(disk, region.offsetBytes, region.bytes.length).equals(region.bytes), `${region.what} at LBA ${region.lba}`);
    }
  });

  test("a byte flipped on disk is reported with the file and LBA", () => {
    const copy = join(dir, "corrupt.img");
    const bytes = readFileSync(disk);
    bytes[2 * SECTOR + 128 + 40] = bytes[2 * SECTOR + 128 + 40]! ^ 0x01; // entry 2's ending LBA, primary array
    writeFileSync(copy, bytes);
    assert.throws(() => readGpt(copy), { name: "FormatError", message: /corrupt\.img: gpt: partition entry array CRC mismatch at LBA 2 \(header at LBA 1\)/ });
    const lenient = readGpt(copy, { strict: false });
    assert.equal(lenient.source, "backup");
    assert.deepEqual(lenient.disk, expected);
  });
});
