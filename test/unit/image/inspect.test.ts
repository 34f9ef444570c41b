// inspectDisk on a disk made entirely by the real tools: sgdisk for the table, mkfs.vfat and
// mke2fs for the filesystems, dd to place them. Nothing of ours writes this disk.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../../src/exec.ts";
import { PARTITION_TYPES } from "../../../src/formats/gpt.ts";
import { formatInspectTable, inspectDisk, type InspectResult } from "../../../src/image/inspect.ts";

const MiB = 1024 * 1024;
const DISK_GUID = "5B3C1A52-7E0D-4C55-9C0B-7D3C9A0E1F01";
const ESP_GUID = "0E8F1C2D-3B4A-4F5E-8A9B-0C1D2E3F4A5B";
const ROOT_GUID = "1A2B3C4D-5E6F-4A8B-9C0D-1E2F3A4B5C6D";
const EMPTY_GUID = "2B3C4D5E-6F70-4B9C-8D0E-1F2A3B4C5D6E";
const OTHER_TYPE = "21686148-6449-6E6F-744E-656564454649"; // BIOS boot: a type we have no name for
const EXT4_UUID = "11111111-2222-4333-8444-555555555555";

describe("inspectDisk on a disk made by sgdisk, mkfs.vfat, mke2fs and dd", () => {
  let dir = "";
  let disk = "";
  let result: InspectResult;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "icos-inspect-"));
    disk = join(dir, "disk.img");
    await run("truncate", ["-s", "48M", disk]);
    await run("sgdisk", [
      `--disk-guid=${DISK_GUID}`,
      ...["-n", "1:1M:+16M", "-t", "1:ef00", "-c", "1:ESP", "-u", `1:${ESP_GUID}`],
      ...["-n", "2:17M:+24M", "-t", "2:8300", "-c", "2:root_a", "-u", `2:${ROOT_GUID}`],
      ...["-n", "3:41M:+4M", "-t", `3:${OTHER_TYPE}`, "-c", "3:empty", "-u", `3:${EMPTY_GUID}`],
      disk,
    ]);
    const esp = join(dir, "esp.img");
    const root = join(dir, "root.img");
    await run("mkfs.vfat", ["-C", "-i", "1234ABCD", "-n", "ESP", esp, String(16 * 1024)]);
    await run("mke2fs", ["-q", "-F", "-t", "ext4", "-U", EXT4_UUID, "-L", "ROOT", root, "24M"]);
    await run("dd", [`if=${esp}`, `of=${disk}`, "bs=1M", "seek=1", "conv=notrunc", "status=none"]);
    await run("dd", [`if=${root}`, `of=${disk}`, "bs=1M", "seek=17", "conv=notrunc", "status=none"]);
    result = await inspectDisk(disk);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("disk-level fields", () => {
    assert.equal(result.diskGuid, DISK_GUID);
    assert.equal(result.sizeBytes, 48 * MiB);
    assert.equal(result.sectorSize, 512);
    assert.deepEqual(result.warnings, []);
  });

  test("partitions: names, types, GUIDs, starts, sizes, filesystems", () => {
    assert.deepEqual(result.partitions, [
      {
        index: 1,
        name: "ESP",
        type: "esp",
        typeGuid: PARTITION_TYPES.esp,
        partGuid: ESP_GUID,
        startLba: 2048,
        sizeLba: 32768,
        startBytes: 1 * MiB,
        sizeBytes: 16 * MiB,
        attributes: "0x0000000000000000",
        fs: { type: "vfat", label: "ESP", uuid: "1234-ABCD" },
      },
      {
        index: 2,
        name: "root_a",
        type: "linux",
        typeGuid: PARTITION_TYPES.linux,
        partGuid: ROOT_GUID,
        startLba: 34816,
        sizeLba: 49152,
        startBytes: 17 * MiB,
        sizeBytes: 24 * MiB,
        attributes: "0x0000000000000000",
        fs: { type: "ext4", label: "ROOT", uuid: EXT4_UUID.toLowerCase() },
      },
      {
        index: 3,
        name: "empty",
        type: OTHER_TYPE,
        typeGuid: OTHER_TYPE,
        partGuid: EMPTY_GUID,
        startLba: 83968,
        sizeLba: 8192,
        startBytes: 41 * MiB,
        sizeBytes: 4 * MiB,
        attributes: "0x0000000000000000",
      },
    ]);
  });

  test("formatInspectTable renders an aligned table", () => {
    const expected = [
      `${disk}: 48M (50331648 bytes), 512-byte sectors, disk GUID ${DISK_GUID}`,
      "#  NAME    TYPE                                  START  SIZE  PART GUID                             FS    LABEL  UUID",
      "1  ESP     esp                                    1.0M   16M  0E8F1C2D-3B4A-4F5E-8A9B-0C1D2E3F4A5B  vfat  ESP    1234-ABCD",
      "2  root_a  linux                                   17M   24M  1A2B3C4D-5E6F-4A8B-9C0D-1E2F3A4B5C6D  ext4  ROOT   11111111-2222-4333-8444-555555555555",
      "3  empty   21686148-6449-6E6F-744E-656564454649    41M  4.0M  2B3C4D5E-6F70-4B9C-8D0E-1F2A3B4C5D6E  -     -      -",
    ];
    assert.equal(formatInspectTable(result), expected.join("\n") + "\n");
  });

  test("formatInspectTable lists warnings under the table", () => {
    const text = formatInspectTable({ ...result, warnings: ["gpt: header CRC mismatch at LBA 1"] });
    assert.match(text, /\nwarning: gpt: header CRC mismatch at LBA 1\n$/);
  });
});


test("inspectDisk on a file with no GPT names the file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "icos-inspect-"));
  try {
    const blank = join(dir, "blank.img");
    await run("truncate", ["-s", "1M", blank]);
    await assert.rejects(inspectDisk(blank), { name: "FormatError", message: /blank\.img: gpt: no MBR signature at LBA 0/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
