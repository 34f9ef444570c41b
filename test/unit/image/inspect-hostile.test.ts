// `icos inspect` on files that are not the GPT disks it expects: a bare filesystem and an MBR disk
// are named for what they are (exit 2), and a GPT with more partitions than are worth a blkid
// process each is listed with only the first MAX_PROBED_PARTITIONS probed.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { run } from "../../../src/exec.ts";
import { PARTITION_TYPES } from "../../../src/formats/gpt.ts";
import { nameGuid } from "../../../src/formats/guid.ts";
import { createDiskImage } from "../../../src/image/disk.ts";
import { inspectDisk, MAX_PROBED_PARTITIONS } from "../../../src/image/inspect.ts";
import { icosAsync } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";

const MiB = 1 << 20;

describe("icos inspect on a file without a GPT", { concurrency: 2 }, () => {
  it("a bare vfat filesystem is named with its label, exit 2", async (t) => {
    const img = join(scratch(t), "config.img");
    await run("mkfs.vfat", ["-C", "-n", "CONFIG", img, "2048"]);
    const r = await icosAsync(["inspect", img]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: ${img}: a vfat filesystem \\(label CONFIG\\), not a partitioned disk\\n  hint: icos inspect lists the partitions of GPT disk images`));
  });

  it("an MBR-only disk is an MBR (dos) partition table, not GPT, exit 2", async (t) => {
    const img = join(scratch(t), "mbr.img");
    await run("truncate", ["-s", "4M", img]);
    await run("sfdisk", ["-q", img], { input: "label: dos\n,1M,83\n" });
    const r = await icosAsync(["inspect", img]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: ${img}: an MBR \\(dos\\) partition table, not GPT\\n`));
  });
});

it(`inspect probes at most ${MAX_PROBED_PARTITIONS} partitions with blkid, and says so`, async (t) => {
  const img = join(scratch(t), "many.img");
  const count = MAX_PROBED_PARTITIONS + 8;
  const first = 2 + (1024 * 128) / 512; // after a 1024-entry array
  const partitions = Array.from({ length: count }, (_, i) => ({
    index: i + 1,
    typeGuid: PARTITION_TYPES.linux,
    partGuid: nameGuid("many", String(i)),
    firstLba: first + i * 8,
    lastLba: first + i * 8 + 7,
    attributes: 0n,
    name: `p${i}`,
  }));
  await createDiskImage(img, { sectorSize: 512, sizeBytes: 4 * MiB, diskGuid: nameGuid("many", "disk"), entryCount: 1024, entrySize: 128, partitions }, []);
  const result = await inspectDisk(img);
  assert.equal(result.partitions.length, count);
  assert.deepEqual(result.warnings, [`${count} partitions: only the first ${MAX_PROBED_PARTITIONS} were probed for a filesystem`]);
});
