// Components laid into an image tree: explicit modes and owners whatever the umask, os.yaml's
// fileModes and enableUnits applied (systemctl --root is the tool that enables), an existing file
// replaced rather than written through, and only initramfs-tools files in the Dockerfile context.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { componentFiles, componentsDigest, copyInitramfsFiles, isInitramfsFile, layInComponents } from "../../../src/build/components.ts";
import { listTree } from "../../../src/fs/files.ts";
import { loadOsNamed } from "../../../src/model/target.ts";
import { scratch } from "../../helpers/tmp.ts";

const guestos = loadOsNamed("guestos");

test("lay-in: modes are 0644/0755 (executable bit) and fileModes, owners root, whatever the umask", async (t) => {
  const tree = scratch(t);
  const old = process.umask(0o077);
  try {
    await layInComponents(tree, { ...guestos, enableUnits: [] });
  } finally {
    process.umask(old);
  }
  const files = await componentFiles(guestos);
  assert.ok(files.length > 20);
  for (const f of files) {
    const st = lstatSync(join(tree, f.path));
    const want = f.path === "etc/sudoers.d/icos-manageboot" ? 0o440 : f.mode;
    assert.equal(st.mode & 0o7777, want, `/${f.path}: ${(st.mode & 0o7777).toString(8)}`);
    assert.equal(st.uid, 0);
    assert.equal(readFileSync(join(tree, f.path), "utf8"), readFileSync(f.src, "utf8"));
  }
  for (const e of await listTree(tree)) if (e.stat.isDirectory()) assert.equal(e.stat.mode & 0o7777, 0o755, `/${e.path}/`);
  assert.equal(lstatSync(join(tree, "opt/ic/bin/manageboot.sh")).mode & 0o777, 0o755);
});

test("lay-in: a symlink already at a component's path is replaced, not written through", async (t) => {
  const tree = scratch(t);
  mkdirSync(join(tree, "etc"));
  writeFileSync(join(tree, "target"), "keep me\n");
  symlinkSync("../target", join(tree, "etc/fstab"));
  await layInComponents(tree, { ...guestos, enableUnits: [], fileModes: {} });
  assert.equal(readFileSync(join(tree, "target"), "utf8"), "keep me\n");
  assert.ok(lstatSync(join(tree, "etc/fstab")).isFile());
});

test("lay-in: enableUnits are enabled as systemctl enable would (WantedBy= symlinks)", async (t) => {
  const tree = scratch(t);
  await layInComponents(tree, { ...guestos, enableUnits: ["bootstrap-ic-node.service", "icos-ready.service"] });
  const wants = join(tree, "etc/systemd/system/multi-user.target.wants");
  assert.equal(readlinkSync(join(wants, "bootstrap-ic-node.service")), "/etc/systemd/system/bootstrap-ic-node.service");
  assert.ok(lstatSync(join(wants, "icos-ready.service")).isSymbolicLink());
  await assert.rejects(layInComponents(scratch(t), { ...guestos, enableUnits: ["no-such.service"] }), /enableUnits/);
});

test("lay-in: maskUnits are masked as systemctl mask would (symlinks to /dev/null)", async (t) => {
  const tree = scratch(t);
  await layInComponents(tree, { ...guestos, enableUnits: [], maskUnits: ["e2scrub_all.timer", "sys-kernel-debug.mount"] });
  for (const unit of ["e2scrub_all.timer", "sys-kernel-debug.mount"]) assert.equal(readlinkSync(join(tree, "etc/systemd/system", unit)), "/dev/null");
});

test("lay-in: a fileModes path the image does not have is an error naming os.yaml", async (t) => {
  await assert.rejects(layInComponents(scratch(t), { ...guestos, enableUnits: [], fileModes: { "/etc/nope": "0400" } }), /os\.yaml: fileModes: \/etc\/nope is not a file/);
});

test("the Dockerfile context gets the initramfs-tools files only; the digest follows every file", async (t) => {
  const dest = scratch(t);
  await copyInitramfsFiles(guestos, dest);
  const got = (await listTree(dest)).filter((e) => e.stat.isFile()).map((e) => e.path);
  const want = (await componentFiles(guestos)).filter((f) => isInitramfsFile(f.path)).map((f) => f.path);
  assert.deepEqual(got, want);
  assert.ok(got.includes("etc/initramfs-tools/scripts/init-bottom/icos-machine-id"));
  const d = await componentsDigest(guestos);
  assert.equal(await componentsDigest(guestos), d);
  assert.notEqual(await componentsDigest({ ...guestos, enableUnits: [] }), d);
  assert.notEqual(await componentsDigest({ ...guestos, fileModes: {} }), d);
  assert.notEqual(await componentsDigest({ ...guestos, maskUnits: [] }), d);
  assert.notEqual(await componentsDigest({ ...guestos, components: guestos.components.slice(1) }), d);
});
