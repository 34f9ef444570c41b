// `icos upgrade` without a device: address parsing, the device's status output, the host-side
// check of the update image, and how bad arguments and an unreachable device are reported.
// The upgrade itself runs against a VM in test/slow/upgrade/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../../src/errors.ts";
import { writeUpdateImage } from "../../../src/image/update-image.ts";
import { parseSshAddress } from "../../../src/upgrade/ssh.ts";
import { parseDeviceState, updateImageVersion } from "../../../src/upgrade/upgrade.ts";
import { freePort } from "../../../src/vm/vm.ts";
import { icos } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";

async function updateImage(dir: string, version: string): Promise<string> {
  writeFileSync(join(dir, "boot.img"), Buffer.alloc(4096, 1));
  writeFileSync(join(dir, "root.img"), Buffer.alloc(4096, 2));
  const file = join(dir, "update-img.tar.zst");
  await writeUpdateImage({ out: file, version, bootImg: join(dir, "boot.img"), rootImg: join(dir, "root.img"), mtime: 0 });
  return file;
}

test("parseSshAddress: host, [v6], default port 22, bad input named", () => {
  assert.deepEqual(parseSshAddress("127.0.0.1:2222"), { host: "127.0.0.1", port: 2222 });
  assert.deepEqual(parseSshAddress("[::1]:22"), { host: "::1", port: 22 });
  assert.deepEqual(parseSshAddress("node.example"), { host: "node.example", port: 22 });
  for (const bad of ["", "host:0", "host:99999", "host:x", "a:b:c"]) assert.throws(() => parseSshAddress(bad), (e: Error) => e instanceof UserError && /--ssh: expected HOST\[:PORT\]/.test(e.message), bad);
});

test("parseDeviceState reads the boot id and manageboot status; partial output is an error", () => {
  const text = "0d6a5c1e-6f3b-4c1a-9d7e-1234567890ab\ncurrent=A\ntarget=B\nboot_alternative=A\nboot_cycle=stable\nnext=A\nversion=1.0.0\nversion_A=1.0.0\nversion_B=none\n";
  assert.deepEqual(parseDeviceState(text), {
    bootId: "0d6a5c1e-6f3b-4c1a-9d7e-1234567890ab", current: "A", target: "B", boot_alternative: "A", boot_cycle: "stable", next: "A", version: "1.0.0", version_A: "1.0.0", version_B: "none",
  });
  assert.throws(() => parseDeviceState(text.replace("boot_cycle=stable\n", "")), /missing boot_cycle/);
  assert.throws(() => parseDeviceState("current=A\n"), /unexpected status output/);
});

test("updateImageVersion reads VERSION.TXT; anything else is not an update image", async (t) => {
  const dir = scratch(t);
  assert.equal(await updateImageVersion(await updateImage(dir, "2.1.0-test")), "2.1.0-test");
  writeFileSync(join(dir, "junk.tar.zst"), "not an archive");
  await assert.rejects(updateImageVersion(join(dir, "junk.tar.zst")), /not an update image \(no readable VERSION\.TXT in it\)/);
  await assert.rejects(updateImageVersion(join(dir, "missing")), /--to .*missing: no such file/);
});

test("icos upgrade: bad arguments exit 2, an unreachable device exits 1 naming it", async (t) => {
  const dir = scratch(t);
  const image = await updateImage(dir, "2.0.0");
  const missing = icos(["upgrade", "--to", join(dir, "nope.tar.zst"), "--ssh", "127.0.0.1:2222"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.tar\.zst: no such file/);
  const badSsh = icos(["upgrade", "--to", image, "--ssh", "127.0.0.1:notaport"]);
  assert.equal(badSsh.code, 2);
  assert.match(badSsh.stderr, /--ssh: expected HOST\[:PORT\]/);
  assert.equal(icos(["upgrade", "--ssh", "127.0.0.1:22"]).code, 2, "--to is required");
  const port = await freePort(); // nothing listens there
  const r = icos(["upgrade", "--to", image, "--ssh", `127.0.0.1:${port}`]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`upgrade of admin@127\\.0\\.0\\.1:${port}: cannot read the device's boot state over ssh`));
  assert.match(r.stderr, /Connection refused/);
});
