// Slow tier: A/B upgrades of a running GuestOS, driven by `icos upgrade` over ssh. Version 1 boots,
// upgrades to 2 (slot B) and 3 (back on A) keeping its identity; damaged images are refused by
// the device; updates that never confirm are undone by GRUB; a power cut in the middle of an
// install leaves the old system booting.
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { icosAsync } from "../../helpers/cli.ts";
import { ensureGuestosBase, icosJson } from "../../helpers/build.ts";
import { configMediaWithKey, knownHostsOf, nthLine, ssh, sshArgs, sshHostKey, waitForSsh } from "../../helpers/vm.ts";
import { scratch } from "../../helpers/tmp.ts";
import { ROOT } from "../../../src/paths.ts";
import { run } from "../../../src/exec.ts";
import { editExt4 } from "../../../src/image/ext4-edit.ts";
import { resealVerityRoot } from "../../../src/image/verity.ts";
import { writeUpdateImage } from "../../../src/image/update-image.ts";
import { startVm, type VmHandle } from "../../../src/vm/vm.ts";

const FIXTURE = join(ROOT, "test/fixtures/vm/node-deterministic.json");
const BOOT_MS = 300_000;
const MANAGEBOOT = "sudo -n /opt/ic/bin/manageboot.sh";
const VERSIONS = ["1.0.0", "2.0.0", "3.0.0"] as const;
const BOOTING = /icos: booting slot/;

let out = "";
const built = (version: string, file: string) => join(out, version, "guestos/dev", file);
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

interface Device {
  vm: VmHandle;
  key: string;
  media: string;
  sh(cmd: string): string;
  status(): Record<string, string>;
  upgrade(image: string): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Boot version 1 with a CONFIG media that lets admin in with a fresh key. */
async function bootVersion1(t: TestContext, name: string, vmOpts: { workDir?: string; keep?: boolean } = {}): Promise<Device> {
  const dir = scratch(t, "icos-upgrade-");
  const { media, key } = configMediaWithKey(dir, FIXTURE);
  const vm = await startVm({ disk: built("1.0.0", "disk.img"), configMedia: media, name, ...vmOpts });
  t.after(() => vm.stop());
  await vm.waitReady(BOOT_MS);
  await waitForSsh(vm.sshPort, "admin", key, 60_000);
  return deviceOf(vm, key, media);
}

function deviceOf(vm: VmHandle, key: string, media: string): Device {
  // The VM's host keys, scanned before its first upgrade: every `icos upgrade` of it checks them
  // (strictly, also after each reboot), so the machine must keep its key through all of them.
  let knownHosts: string | undefined;
  const sh = (cmd: string) => {
    const r = ssh(vm.sshPort, "admin", key, cmd);
    assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
    return r.stdout.trim();
  };
  return {
    vm,
    key,
    media,
    sh,
    status: () => Object.fromEntries(sh(`${MANAGEBOOT} status`).split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])),
    upgrade: (image) => icosAsync(["upgrade", "--to", image, "--ssh", `127.0.0.1:${vm.sshPort}`, "-i", key, "--known-hosts", (knownHosts ??= knownHostsOf(vm.sshPort, join(dirname(key), `known_hosts-${vm.sshPort}`))), "--json", "--timeout", "900"]),
  };
}

const pick = (s: Record<string, string>, ...keys: string[]) => Object.fromEntries(keys.map((k) => [k, s[k]]));

/** Version 2's update image with root.img or boot.img changed by `damage`, stamped `version`. */
async function damagedUpdate(dir: string, version: string, damage: (rootImg: string, bootImg: string) => Promise<void>): Promise<string> {
  const work = join(dir, version);
  mkdirSync(work, { recursive: true });
  await run("tar", ["--zstd", "-xf", built("2.0.0", "update-img.tar.zst"), "-C", work]);
  await damage(join(work, "root.img"), join(work, "boot.img"));
  const file = join(dir, `${version}.tar.zst`);
  await writeUpdateImage({ out: file, version, bootImg: join(work, "boot.img"), rootImg: join(work, "root.img"), mtime: 1_700_000_000 });
  rmSync(work, { recursive: true });
  return file;
}

describe("A/B upgrades in a VM", { concurrency: false }, () => {
  before(() => {
    ensureGuestosBase();
    out = mkdtempSync(join(tmpdir(), "icos-upgrade-out-"));
    // Signed update images: the device verifies them with the key its image trusts.
    const key = join(out, "signing.pem");
    assert.equal(spawnSync("openssl", ["genpkey", "-algorithm", "ed25519", "-out", key]).status, 0);
    for (const v of VERSIONS) icosJson(["build", "guestos/dev", "--scale", "1/64", "--artifacts", "--image-version", v, "--signing-key", key], { env: { ICOS_OUT_DIR: join(out, v) } });
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  test("version 1 -> 2 on slot B -> 3 on slot A, identity kept; damaged images refused first", async (t) => {
    const dev = await bootVersion1(t, "upgrade-ab");
    const identity = () => ({ machineId: dev.sh("cat /etc/machine-id"), hostKey: sshHostKey(dev.vm.sshPort) });
    const id1 = identity();
    const fresh = { current: "A", boot_cycle: "stable", version: "1.0.0", version_A: "1.0.0", version_B: "none" };
    assert.deepEqual(pick(dev.status(), ...Object.keys(fresh)), fresh);

    // The device itself refuses an image that does not match the sha256 it is given.
    const good = readFileSync(built("2.0.0", "update-img.tar.zst"));
    const corrupted = Buffer.from(good);
    corrupted[corrupted.length >> 1] = corrupted[corrupted.length >> 1]! ^ 0x01;
    for (const [what, bytes] of [["corrupted", corrupted], ["truncated", good.subarray(0, Math.floor(good.length * 0.6))]] as const) {
      const r = ssh(dev.vm.sshPort, "admin", dev.key, `${MANAGEBOOT} upgrade-install - ${sha256(good)}`, [], bytes);
      assert.equal(r.code, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /sha256 mismatch: .*nothing written/, what);
      assert.doesNotMatch(r.stderr, /writing/, what);
    }
    // Signed, then altered (with the sha256 of the altered file): the signature no longer covers it.
    const altered = Buffer.from(good);
    altered[100] = altered[100]! ^ 0x01;
    const a = ssh(dev.vm.sshPort, "admin", dev.key, `${MANAGEBOOT} upgrade-install - ${sha256(altered)}`, [], altered);
    assert.equal(a.code, 1, a.stderr);
    assert.match(a.stderr, /altered after signing\); nothing written/);
    // An older version (unsigned, which this dev image would take) is a downgrade: refused.
    const older = await damagedUpdate(scratch(t, "icos-upgrade-old-"), "0.9.0", async () => undefined);
    const o = ssh(dev.vm.sshPort, "admin", dev.key, `${MANAGEBOOT} upgrade-install - ${sha256(readFileSync(older))}`, [], readFileSync(older));
    assert.equal(o.code, 1, o.stderr);
    assert.match(o.stderr, /version 0\.9\.0 is older than the running 1\.0\.0: refusing a downgrade/);
    assert.deepEqual(pick(dev.status(), ...Object.keys(fresh)), fresh, "the refused images changed nothing");

    const consoleBefore = readFileSync(dev.vm.serialLog).length;
    const r2 = await dev.upgrade(built("2.0.0", "update-img.tar.zst"));
    assert.equal(r2.code, 0, r2.stderr);
    const j2 = JSON.parse(r2.stdout) as { from: object; to: object; seconds: { install: number; reboot: number } };
    assert.deepEqual({ from: j2.from, to: j2.to }, { from: { version: "1.0.0", slot: "A" }, to: { version: "2.0.0", slot: "B" } });
    t.diagnostic(`1.0.0 -> 2.0.0: install ${j2.seconds.install.toFixed(0)} s, reboot until confirmed ${j2.seconds.reboot.toFixed(0)} s`);
    assert.match(await nthLine(dev.vm, BOOTING, 2, BOOT_MS), /slot B from hd0,gpt7 \(boot_cycle now failsafe_check\)/);
    await dev.vm.waitFor(/icos-confirm: slot B confirmed: version 2\.0\.0/, BOOT_MS);
    assert.equal(dev.sh("cat /opt/ic/share/version.txt"), "2.0.0");
    assert.deepEqual(pick(dev.status(), "current", "boot_cycle", "version_A", "version_B"), { current: "B", boot_cycle: "stable", version_A: "1.0.0", version_B: "2.0.0" });
    assert.deepEqual(identity(), id1, "machine-id and ssh host key survive the upgrade");
    // The signed image was verified, not let through as unsigned (which this dev image would say on the console).
    assert.doesNotMatch(readFileSync(dev.vm.serialLog).subarray(consoleBefore).toString("latin1"), /installing an update image that is not signed/);

    const r3 = await dev.upgrade(built("3.0.0", "update-img.tar.zst"));
    assert.equal(r3.code, 0, r3.stderr);
    const j3 = JSON.parse(r3.stdout) as { from: object; to: object };
    assert.deepEqual({ from: j3.from, to: j3.to }, { from: { version: "2.0.0", slot: "B" }, to: { version: "3.0.0", slot: "A" } });
    assert.match(await nthLine(dev.vm, BOOTING, 3, BOOT_MS), /slot A from hd0,gpt4 \(boot_cycle now failsafe_check\)/);
    assert.deepEqual(pick(dev.status(), "current", "boot_cycle", "version", "version_B"), { current: "A", boot_cycle: "stable", version: "3.0.0", version_B: "2.0.0" });
    assert.deepEqual(identity(), id1);
  });

  test("updates that never confirm boot once, then the machine is back on slot A by itself", async (t) => {
    const dir = scratch(t, "icos-upgrade-bad-");
    // A root changed after sealing (its superblock zeroed): dm-verity fails the read, the root
    // cannot be mounted, and panic=10 reboots.
    const corruptRoot = await damagedUpdate(dir, "2.0.0-corrupt-root", async (root) => {
      const bytes = readFileSync(root);
      bytes.fill(0, 0, 64 * 1024);
      writeFileSync(root, bytes);
    });
    // A system that boots but has a failed unit: icos-confirm does not confirm it and reboots.
    // Sealed again after the edit: a root that verifies, with a broken unit in it.
    const unhealthy = await damagedUpdate(dir, "2.0.0-unhealthy", async (root, boot) => {
      await editExt4(root, [
        { type: "file", path: "/etc/systemd/system/icos-test-broken.service", content: "[Unit]\nDescription=Fails on purpose (upgrade rollback test)\n[Service]\nType=oneshot\nExecStart=/bin/false\n" },
        { type: "symlink", path: "/etc/systemd/system/multi-user.target.wants/icos-test-broken.service", target: "/etc/systemd/system/icos-test-broken.service" },
      ], { sourceDateEpoch: 1_700_000_000 });
      assert.ok(await resealVerityRoot(boot, root, "guestos", 1_700_000_000), "guestos has a verity root");
    });
    // A boot partition GRUB cannot read: no kernel to load, so grub.cfg reboots.
    const corruptBoot = await damagedUpdate(dir, "2.0.0-corrupt-boot", async (_root, boot) => {
      const bytes = readFileSync(boot);
      bytes.fill(0, 0, 64 * 1024);
      writeFileSync(boot, bytes);
    });
    const dev = await bootVersion1(t, "upgrade-rollback");
    let boots = 1;
    for (const [image, version, sign] of [
      [corruptRoot, "2.0.0-corrupt-root", /verity: .*data block \d+ is corrupted/],
      [unhealthy, "2.0.0-unhealthy", /icos-confirm: slot B is degraded after an upgrade \(boot_cycle=failsafe_check\): not confirming; rebooting/],
      [corruptBoot, "2.0.0-corrupt-boot", /icos: slot B did not boot; rebooting/],
    ] as const) {
      // Counted from the VM's start; the upgrade's install alone takes minutes under TCG.
      const intoB = nthLine(dev.vm, BOOTING, ++boots, 3 * BOOT_MS);
      const backToA = nthLine(dev.vm, BOOTING, ++boots, 3 * BOOT_MS);
      const r = await dev.upgrade(image);
      assert.equal(r.code, 1, `${version}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`rolled back: slot B \\(version ${version}\\) never confirmed, the device runs version 1\\.0\\.0 on slot A again`));
      assert.match(await intoB, /slot B from hd0,gpt7 \(boot_cycle now failsafe_check\)/, version);
      assert.match(await backToA, /slot A from hd0,gpt4 \(boot_cycle now stable\)/, version);
      await dev.vm.waitFor(sign, 1000);
      // Re-packed by the test, so unsigned: the dev image takes it and says so.
      assert.match(readFileSync(dev.vm.serialLog, "latin1"), /manageboot: WARNING: installing an update image that is not signed by a trusted key/);
      assert.deepEqual(pick(dev.status(), "current", "boot_cycle", "version"), { current: "A", boot_cycle: "stable", version: "1.0.0" });
      t.diagnostic(`${version}: rolled back`);
    }
  });

  test("a power cut during upgrade-install: the old version boots, and the half-written slot cannot be committed", async (t) => {
    const workDir = scratch(t, "icos-upgrade-cut-");
    const dev = await bootVersion1(t, "upgrade-cut", { workDir, keep: true });
    const image = built("2.0.0", "update-img.tar.zst");
    // Stream the image to upgrade-install; pull the plug a few seconds into writing root.img.
    const bytes = readFileSync(image);
    const install = spawn("ssh", sshArgs(dev.vm.sshPort, "admin", dev.key, `${MANAGEBOOT} upgrade-install - ${sha256(bytes)}`), { stdio: ["pipe", "ignore", "pipe"] });
    const closed = new Promise((r) => install.once("close", r));
    install.stdin.on("error", () => undefined);
    install.stdin.end(bytes);
    let said = "";
    await new Promise<void>((resolve, reject) => {
      install.stderr.on("data", (b: Buffer) => {
        said += b.toString();
        if (said.includes("writing root.img")) resolve();
      });
      install.once("close", () => reject(new Error(`upgrade-install ended before writing root.img:\n${said}`)));
    });
    await new Promise((r) => setTimeout(r, 5000));
    process.kill(dev.vm.pid, "SIGKILL");
    await dev.vm.stop();
    await closed;
    assert.doesNotMatch(said, /slot B holds version/, "the install was cut short");

    const vm = await startVm({ disk: built("1.0.0", "disk.img"), configMedia: dev.media, workDir, resume: true });
    t.after(() => vm.stop());
    assert.match(await vm.waitFor(BOOTING, BOOT_MS), /slot A from hd0,gpt4 \(boot_cycle now stable\)/);
    await vm.waitReady(BOOT_MS);
    await waitForSsh(vm.sshPort, "admin", dev.key, 60_000);
    const after = deviceOf(vm, dev.key, dev.media);
    assert.deepEqual(pick(after.status(), "current", "boot_cycle", "version"), { current: "A", boot_cycle: "stable", version: "1.0.0" });
    const commit = ssh(vm.sshPort, "admin", dev.key, `${MANAGEBOOT} upgrade-commit`);
    assert.equal(commit.code, 1);
    assert.match(commit.stderr, /no completed install to commit/);
  });
});
