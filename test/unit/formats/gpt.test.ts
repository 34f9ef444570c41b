// The GPT codec on tiny hand-built disks. The real-tool oracles (sgdisk, sfdisk, blkid) live in
// test/unit/image/disk.test.ts; here each field is checked against the UEFI spec by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { FormatError } from "../../../src/formats/format-error.ts";
import { guidFromBytes, guidToBytes, nameGuid, normalizeGuid } from "../../../src/formats/guid.ts";
import { decodeGpt } from "../../../src/formats/gpt-decode.ts";
import {
  GPT_ATTRIBUTES,
  PARTITION_TYPES,
  encodeGpt,
  gptGeometry,
  partitionTypeName,
  type GptDisk,
} from "../../../src/formats/gpt.ts";

const MiB = 1024 * 1024;

// 1 MiB = 2048 LBAs: first usable 34, last usable 2014, backup array 2015..2046, backup header 2047.
function tinyDisk(overrides: Partial<GptDisk> = {}): GptDisk {
  return {
    sectorSize: 512,
    sizeBytes: MiB,
    diskGuid: nameGuid("test", "disk"),
    entryCount: 128,
    entrySize: 128,
    partitions: [
      { index: 1, typeGuid: PARTITION_TYPES.esp, partGuid: nameGuid("test", "esp"), firstLba: 34, lastLba: 99, attributes: 0n, name: "ESP" },
      {
        index: 2,
        typeGuid: PARTITION_TYPES.linux,
        partGuid: nameGuid("test", "root"),
        firstLba: 100,
        lastLba: 2014,
        attributes: GPT_ATTRIBUTES.legacyBiosBootable | (1n << 63n),
        name: "root_a",
      },
    ],
    ...overrides,
  };
}

function toImage(disk: GptDisk): Buffer {
  const image = Buffer.alloc(disk.sizeBytes);
  for (const r of encodeGpt(disk)) r.bytes.copy(image, r.offsetBytes);
  return image;
}

function flip(image: Buffer, offset: number, mask: number): void {
  image[offset] = image[offset]! ^ mask;
}

const readerOf = (image: Buffer) => (offset: number, length: number) => image.subarray(offset, offset + length);

test("guid: ESP type GUID is stored mixed-endian (UEFI Appendix A)", () => {
  const bytes = guidToBytes("c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
  assert.equal(bytes.toString("hex").match(/../g)!.join(" "), "28 73 2a c1 1f f8 d2 11 ba 4b 00 a0 c9 3e c9 3b");
  assert.equal(guidFromBytes(bytes), PARTITION_TYPES.esp);
  assert.equal(guidFromBytes(Buffer.concat([Buffer.alloc(3), bytes]), 3), PARTITION_TYPES.esp);
});

test("guid: bad text is refused naming the value", () => {
  assert.throws(() => guidToBytes("C12A7328-F81F-11D2-BA4B-00A0C93EC93"), { name: "FormatError", message: /got "C12A7328-F81F-11D2-BA4B-00A0C93EC93"/ });
  assert.throws(() => normalizeGuid("not-a-guid"), /got "not-a-guid"/);
});

test("guid: nameGuid is deterministic, version 5, and differs by namespace and name", () => {
  const a = nameGuid("guestos", "root_a");
  assert.equal(a, nameGuid("guestos", "root_a"));
  assert.match(a, /^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
  assert.notEqual(a, nameGuid("guestos", "root_b"));
  assert.notEqual(a, nameGuid("hostos", "root_a"));
  // Pinned (computed independently with Python's uuid.uuid5): a change here changes every
  // image's GUIDs, and so every image's bytes.
  assert.equal(a, "586F9A9B-F703-52E4-8098-9F53634A0850");
});

test("partition type names map both ways", () => {
  assert.equal(PARTITION_TYPES.lvm, "E6D6D379-F507-44C2-A23C-238F2A3DF928");
  assert.equal(partitionTypeName("0fc63daf-8483-4772-8e79-3d69d8477de4"), "linux");
  assert.equal(partitionTypeName(PARTITION_TYPES.msdata), "msdata");
  assert.equal(partitionTypeName("21686148-6449-6E6F-744E-656564454649"), undefined);
});

test("geometry of a 1 MiB disk with 128 x 128-byte entries", () => {
  assert.deepEqual(gptGeometry(tinyDisk()), {
    totalLbas: 2048,
    entryArrayLbas: 32,
    primaryEntriesLba: 2,
    firstUsableLba: 34,
    lastUsableLba: 2014,
    backupEntriesLba: 2015,
    backupHeaderLba: 2047,
  });
});

test("encode: regions in disk order; backup array just before the backup header in the last LBA", () => {
  const regions = encodeGpt(tinyDisk());
  assert.deepEqual(
    regions.map((r) => [r.what, r.lba, r.offsetBytes, r.bytes.length]),
    [
      ["protective MBR", 0, 0, 512],
      ["primary header", 1, 512, 512],
      ["primary entry array", 2, 1024, 16384],
      ["backup entry array", 2015, 2015 * 512, 16384],
      ["backup header", 2047, 2047 * 512, 512],
    ],
  );
});

test("encode: protective MBR has one 0xEE record covering the disk, size capped at 0xFFFFFFFF", () => {
  const mbr = encodeGpt(tinyDisk())[0]!.bytes;
  assert.equal(mbr.readUInt16LE(510), 0xaa55);
  assert.equal(mbr[446 + 4], 0xee);
  assert.deepEqual([...mbr.subarray(446 + 1, 446 + 4)], [0x00, 0x02, 0x00]); // CHS of LBA 1
  assert.equal(mbr.readUInt32LE(446 + 8), 1);
  assert.equal(mbr.readUInt32LE(446 + 12), 2047);
  assert.ok(mbr.subarray(462, 510).every((b) => b === 0), "other three records empty");
  const big = encodeGpt(tinyDisk({ sizeBytes: 3 * 1024 ** 4, partitions: [] }))[0]!.bytes; // 3 TiB
  assert.equal(big.readUInt32LE(446 + 12), 0xffffffff);
  assert.deepEqual([...big.subarray(446 + 5, 446 + 8)], [0xff, 0xff, 0xff]);
});

test("encode: header fields and both CRCs (UEFI 5.3.2)", () => {
  const [, primary, entries, , backup] = encodeGpt(tinyDisk());
  const h = primary!.bytes;
  assert.equal(h.toString("latin1", 0, 8), "EFI PART");
  assert.equal(h.readUInt32LE(8), 0x00010000);
  assert.equal(h.readUInt32LE(12), 92);
  assert.equal(h.readBigUInt64LE(24), 1n);
  assert.equal(h.readBigUInt64LE(32), 2047n);
  assert.equal(h.readBigUInt64LE(40), 34n);
  assert.equal(h.readBigUInt64LE(48), 2014n);
  assert.equal(guidFromBytes(h, 56), nameGuid("test", "disk"));
  assert.equal(h.readBigUInt64LE(72), 2n);
  assert.equal(h.readUInt32LE(80), 128);
  assert.equal(h.readUInt32LE(84), 128);
  assert.equal(h.readUInt32LE(88), crc32(entries!.bytes));
  const zeroed = Buffer.from(h.subarray(0, 92));
  zeroed.writeUInt32LE(0, 16);
  assert.equal(h.readUInt32LE(16), crc32(zeroed));
  assert.ok(h.subarray(92).every((b) => b === 0));
  const b = backup!.bytes;
  assert.equal(b.readBigUInt64LE(24), 2047n);
  assert.equal(b.readBigUInt64LE(32), 1n);
  assert.equal(b.readBigUInt64LE(72), 2015n);
  assert.equal(b.readUInt32LE(88), h.readUInt32LE(88));
});

test("encode: entry bytes (UEFI 5.3.3), names UTF-16LE, empty slots zero", () => {
  const entries = encodeGpt(tinyDisk())[2]!.bytes;
  const e2 = entries.subarray(128, 256);
  assert.deepEqual(e2.subarray(0, 16), guidToBytes(PARTITION_TYPES.linux));
  assert.deepEqual(e2.subarray(16, 32), guidToBytes(nameGuid("test", "root")));
  assert.equal(e2.readBigUInt64LE(32), 100n);
  assert.equal(e2.readBigUInt64LE(40), 2014n);
  assert.equal(e2.readBigUInt64LE(48), 0x8000000000000004n);
  assert.equal(e2.subarray(56, 68).toString("hex"), Buffer.from("root_a", "utf16le").toString("hex"));
  assert.ok(e2.subarray(68).every((b) => b === 0));
  assert.ok(entries.subarray(256).every((b) => b === 0));
});

test("encode is deterministic", () => {
  assert.deepEqual(toImage(tinyDisk()), toImage(tinyDisk()));
});

test("round trip: decode(encode(disk)) gives the disk back", () => {
  const disk = tinyDisk();
  const decoded = decodeGpt(readerOf(toImage(disk)), disk.sizeBytes);
  assert.deepEqual(decoded, { disk, firstUsableLba: 34, lastUsableLba: 2014, source: "primary", warnings: [] });
});

test("round trip: 36-unit names fit, including characters outside the BMP (2 units each)", () => {
  const disk = tinyDisk();
  const names = ["x".repeat(36), "\u{1F600}".repeat(18)];
  const parts = disk.partitions.map((p, i) => ({ ...p, name: names[i]! }));
  const decoded = decodeGpt(readerOf(toImage({ ...disk, partitions: parts })), disk.sizeBytes);
  assert.deepEqual(decoded.disk.partitions.map((p) => p.name), names);
});

test("decode: a flipped byte in the primary header is a CRC mismatch at LBA 1", () => {
  const image = toImage(tinyDisk());
  flip(image, 512 + 60, 0x01); // inside the disk GUID
  assert.throws(() => decodeGpt(readerOf(image), MiB), (e: unknown) => {
    assert.ok(e instanceof FormatError);
    assert.match(e.message, /^gpt: header CRC mismatch at LBA 1: stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}$/m);
    assert.match(e.message, /backup GPT at LBA 2047 is intact/);
    return true;
  });
  const lenient = decodeGpt(readerOf(image), MiB, { strict: false });
  assert.equal(lenient.source, "backup");
  assert.deepEqual(lenient.disk, tinyDisk());
  assert.equal(lenient.warnings.length, 1);
  assert.match(lenient.warnings[0]!, /header CRC mismatch at LBA 1/);
});

test("decode: the stored and computed CRCs in the message are the real ones", () => {
  const image = toImage(tinyDisk());
  const stored = image.readUInt32LE(512 + 16);
  flip(image, 512 + 60, 0x01);
  const zeroed = Buffer.from(image.subarray(512, 512 + 92));
  zeroed.writeUInt32LE(0, 16);
  const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
  assert.throws(() => decodeGpt(readerOf(image), MiB), { message: new RegExp(`stored ${hex(stored)}, computed ${hex(crc32(zeroed))}`) });
});

test("decode: a flipped byte in the primary entry array is an array CRC mismatch at LBA 2", () => {
  const image = toImage(tinyDisk());
  flip(image, 2 * 512 + 128 + 33, 0x80); // entry 2's starting LBA
  assert.throws(() => decodeGpt(readerOf(image), MiB), {
    name: "FormatError",
    message: /^gpt: partition entry array CRC mismatch at LBA 2 \(header at LBA 1\): stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}$/m,
  });
});

test("decode: a corrupt backup header is reported even though the primary is fine", () => {
  const image = toImage(tinyDisk());
  flip(image, 2047 * 512 + 40, 0xff);
  assert.throws(() => decodeGpt(readerOf(image), MiB), { message: /header CRC mismatch at LBA 2047/ });
  const lenient = decodeGpt(readerOf(image), MiB, { strict: false });
  assert.equal(lenient.source, "primary");
  assert.match(lenient.warnings.join("\n"), /at LBA 2047/);
});

test("decode: a corrupt backup entry array is reported with its LBA", () => {
  const image = toImage(tinyDisk());
  flip(image, 2015 * 512 + 5, 0x01);
  assert.throws(() => decodeGpt(readerOf(image), MiB), { message: /partition entry array CRC mismatch at LBA 2015 \(header at LBA 2047\)/ });
});

test("decode: both copies corrupt fails even when not strict", () => {
  const image = toImage(tinyDisk());
  flip(image, 512 + 60, 0x01);
  flip(image, 2047 * 512 + 60, 0x01);
  assert.throws(() => decodeGpt(readerOf(image), MiB, { strict: false }), /LBA 1[^]*LBA 2047/);
});

test("decode: a disk grown after writing has its backup in the wrong place", () => {
  const image = Buffer.concat([toImage(tinyDisk()), Buffer.alloc(MiB)]);
  assert.throws(() => decodeGpt(readerOf(image), 2 * MiB), /puts the backup at LBA 2047, but the last LBA is 4095/);
  const lenient = decodeGpt(readerOf(image), 2 * MiB, { strict: false });
  assert.equal(lenient.source, "primary");
  assert.deepEqual(lenient.disk.partitions, tinyDisk().partitions);
});

test("decode: no GPT and no MBR signature", () => {
  assert.throws(() => decodeGpt(readerOf(Buffer.alloc(MiB)), MiB), (e: unknown) => {
    assert.ok(e instanceof FormatError);
    assert.match(e.message, /no MBR signature at LBA 0 \(offset 510\): stored 0x0000, expected 0xaa55/);
    assert.match(e.message, /no GPT header at LBA 1/);
    return true;
  });
});

test("decode: a short read names the structure and LBA", () => {
  const image = toImage(tinyDisk());
  assert.throws(() => decodeGpt((o, l) => image.subarray(o, Math.min(o + l, 4096)), MiB), /short read of GPT header at LBA 2047/);
});

test("encode refuses a name longer than 36 UTF-16 code units", () => {
  const disk = tinyDisk();
  const parts = [{ ...disk.partitions[0]!, name: "n".repeat(37) }];
  assert.throws(() => encodeGpt({ ...disk, partitions: parts }), { name: "FormatError", message: /partition 1 \(n+\): name is 37 UTF-16 code units, at most 36 fit/ });
});

test("encode refuses overlapping partitions", () => {
  const disk = tinyDisk();
  const parts = [disk.partitions[0]!, { ...disk.partitions[1]!, firstLba: 99 }];
  assert.throws(() => encodeGpt({ ...disk, partitions: parts }), /partition 2 \(root_a\) \(LBAs 99\.\.2014\) overlaps partition 1 \(ESP\) \(LBAs 34\.\.99\)/);
});

test("encode lists every problem: outside the usable range, duplicate slot, bad GUID", () => {
  const disk = tinyDisk();
  const [esp, root] = [disk.partitions[0]!, disk.partitions[1]!];
  const parts = [{ ...esp, firstLba: 33 }, { ...root, index: 1, lastLba: 2015, partGuid: "nope" }];
  assert.throws(() => encodeGpt({ ...disk, partitions: parts }), (e: unknown) => {
    assert.ok(e instanceof FormatError);
    assert.match(e.message, /^gpt: cannot encode:/);
    assert.match(e.message, /partition 1 \(ESP\): LBAs 33\.\.99 outside the usable range 34\.\.2014/);
    assert.match(e.message, /partition 1 \(root_a\): slot 1 used twice/);
    assert.match(e.message, /partition 1 \(root_a\): bad partition GUID "nope"/);
    assert.match(e.message, /LBAs 100\.\.2015 outside the usable range/);
    return true;
  });
});

test("encode refuses bad geometry", () => {
  assert.throws(() => encodeGpt(tinyDisk({ sizeBytes: MiB + 1 })), /multiple of the 512-byte sector/);
  assert.throws(() => encodeGpt(tinyDisk({ sizeBytes: 16 * 1024, partitions: [] })), /too small for two GPTs/);
  assert.throws(() => encodeGpt(tinyDisk({ entryCount: 4 })), /at least 16384 bytes/);
  assert.throws(() => encodeGpt(tinyDisk({ diskGuid: "x" })), /disk GUID: "x" is not a GUID/);
});

test("a 4096-byte-sector disk round-trips with a 4-LBA entry array", () => {
  const disk = tinyDisk({ sectorSize: 4096, sizeBytes: 4 * MiB, partitions: [] });
  const g = gptGeometry(disk);
  assert.equal(g.entryArrayLbas, 4);
  assert.equal(g.firstUsableLba, 6);
  const parts = [{ ...tinyDisk().partitions[0]!, firstLba: 6, lastLba: 100 }];
  const full = { ...disk, partitions: parts };
  assert.deepEqual(decodeGpt(readerOf(toImage(full)), 4 * MiB, { sectorSize: 4096 }).disk, full);
});
