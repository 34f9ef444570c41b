import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { icos } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";
import { HOST_TOOLS } from "../../../src/host-tools.ts";

test("icos doctor: every tool found on a set-up host, with version and package", () => {
  const r = icos(["doctor", "--json"]);
  assert.equal(r.code, 0, r.stdout);
  const checks = JSON.parse(r.stdout) as { name: string; found: boolean; version?: string; pkg: string }[];
  for (const tool of HOST_TOOLS) {
    const c = checks.find((x) => x.name === tool.command);
    assert.ok(c?.found, `${tool.command} found`);
    assert.ok(c.version, `${tool.command} has a version`);
    assert.equal(c.pkg, tool.pkg);
  }
});

test("icos doctor: a missing tool is reported with its package and exit 1", () => {
  const r = icos(["doctor"], { hideSbin: true });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^MISSING\s+sgdisk\s+gdisk$/m);
  assert.match(r.stdout, /^ok\s+podman\s/m);
  assert.match(r.stdout, /missing: install with scripts\/setup-host\.sh \(apt-get install .*\bgdisk\b/);
});

test("a command that needs a missing tool names it and its package, no stack trace", async (t) => {
  const { createDiskImage } = await import("../../../src/image/disk.ts");
  const { PARTITION_TYPES } = await import("../../../src/formats/gpt.ts");
  const disk = join(scratch(t), "disk.img");
  await createDiskImage(disk, {
    sectorSize: 512, sizeBytes: 8 << 20, diskGuid: "11111111-2222-3333-4444-555555555555", entryCount: 128, entrySize: 128,
    partitions: [{ index: 1, typeGuid: PARTITION_TYPES.esp, partGuid: "11111111-2222-3333-4444-666666666666", firstLba: 2048, lastLba: 4095, attributes: 0n, name: "esp" }],
  }, []);
  const r = icos(["inspect", disk], { hideSbin: true }); // blkid lives in /usr/sbin
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: required tool 'blkid' is not installed \(Debian package: util-linux\)\n  hint: run scripts\/setup-host\.sh/);
  assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/);
});
