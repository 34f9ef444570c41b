// `icos status` and `icos rollback` as a user runs them, against a fake `ssh` that is a whole
// device (test/helpers/device-ssh.ts): the real manageboot.sh on files standing in for the
// partitions, GRUB's boot protocol table for each reboot, and a booted slot that confirms itself
// unless told to be unhealthy. What runs on the device and what icos reports are both real.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DeviceStatus } from "../../../src/upgrade/device-status.ts";
import { icosAsync, type CliResult } from "../../helpers/cli.ts";
import { deviceSsh } from "../../helpers/device-ssh.ts";
import { fakeVm } from "../../helpers/fake-qemu.ts";
import { device, MIB, updateImage, type Device } from "../../helpers/manageboot.ts";
import { scratch } from "../../helpers/tmp.ts";

/** A device running 2.0.0 on B (confirmed), with 1.0.0 on A: an upgrade went through. */
async function upgradedDevice(dir: string): Promise<Device> {
  const dev = device(dir, { boot_alternative: "B", boot_cycle: "stable" });
  for (const [slot, version] of [["A", "1.0.0"], ["B", "2.0.0"]] as const) {
    const part = Buffer.alloc(8 * MIB, 0x55);
    (await updateImage(dir, version)).boot.copy(part);
    writeFileSync(join(dev.parts, `${slot}_boot`), part);
  }
  writeFileSync(join(dir, "version.txt"), "2.0.0\n");
  return dev;
}

const usage = (r: CliResult, message: RegExp) => {
  assert.equal(r.code, 2, `exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, message);
};

describe("icos status and rollback", { timeout: 120_000, concurrency: 2 }, () => {
  test("status: slot, version, boot_cycle, confirmed; --json; what runs on the device", async (t) => {
    const dir = scratch(t, "icos-status-");
    const dev = await upgradedDevice(dir);
    const ssh = deviceSsh(dev, "B");
    writeFileSync(join(dir, "kh"), "");
    const args = ["--ssh", "192.0.2.10:2222", "--known-hosts", join(dir, "kh")];
    const r = await icosAsync(["status", ...args], { env: ssh.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "admin@192.0.2.10:2222: slot B, version 2.0.0, confirmed\n  grubenv: boot_alternative=B boot_cycle=stable; next boot: slot B\n  slot A: 1.0.0\n  slot B: 2.0.0 (running)\n",
    );
    const j = await icosAsync(["status", ...args, "--json"], { env: ssh.env });
    const s = JSON.parse(j.stdout) as DeviceStatus;
    assert.deepEqual(
      { ...s, bootId: "" },
      { device: "admin@192.0.2.10:2222", bootId: "", slot: "B", version: "2.0.0", bootCycle: "stable", bootAlternative: "B", next: "B", confirmed: true, state: "confirmed", slots: { A: { version: "1.0.0" }, B: { version: "2.0.0" } } },
    );
    const argv = ssh.calls()[0]!;
    assert.deepEqual(argv.slice(0, 2), ["-p", "2222"]);
    assert.ok(argv.includes("StrictHostKeyChecking=yes") && argv.includes(`UserKnownHostsFile=${join(dir, "kh")}`), argv.join(" "));
    assert.equal(argv.at(-1), "cat /proc/sys/kernel/random/boot_id && sudo -n /opt/ic/bin/manageboot.sh status");
  });

  test("rollback: the other slot boots once, confirms, and icos reports old -> new; a second one goes forward again", async (t) => {
    const dir = scratch(t, "icos-rollback-");
    const dev = await upgradedDevice(dir);
    const ssh = deviceSsh(dev, "B");
    const args = ["--ssh", "192.0.2.10", "--trust-on-first-use"];
    const r = await icosAsync(["rollback", ...args], { env: ssh.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^rolled back admin@192\.0\.2\.10:22: 2\.0\.0 \(slot B\) -> 1\.0\.0 \(slot A\) in \d+ s\n$/);
    assert.match(r.stderr, /device: rollback: the next boot runs slot A \(version 1\.0\.0\) once; it stays only if it confirms/);
    assert.match(r.stderr, /device is up: slot A, version 1\.0\.0, boot_cycle stable/);
    assert.equal(ssh.running(), "A");
    assert.deepEqual([...dev.env_()], [["boot_alternative", "A"], ["boot_cycle", "stable"]]);
    assert.ok(ssh.calls().some((argv) => argv.at(-1) === "sudo -n /opt/ic/bin/manageboot.sh rollback"));
    const back = await icosAsync(["rollback", ...args, "--json"], { env: ssh.env });
    assert.equal(back.code, 0, back.stderr);
    const res = JSON.parse(back.stdout) as { from: unknown; to: unknown; confirmed: boolean };
    assert.deepEqual([res.from, res.to, res.confirmed], [{ slot: "A", version: "1.0.0" }, { slot: "B", version: "2.0.0" }, true]);
  });

  test("rollback to a slot that never confirms: the device returns by itself, exit 1; --no-wait returns at the reboot", async (t) => {
    const dir = scratch(t, "icos-rollback-");
    const dev = await upgradedDevice(dir);
    const ssh = deviceSsh(dev, "B");
    ssh.unhealthy("A");
    const r = await icosAsync(["rollback", "--ssh", "192.0.2.10", "--trust-on-first-use"], { env: ssh.env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error: admin@192\.0\.2\.10:22: slot A \(version 1\.0\.0\) never confirmed: the device runs version 2\.0\.0 on slot B again/);
    assert.equal(ssh.running(), "B");
    const n = await icosAsync(["rollback", "--ssh", "192.0.2.10", "--trust-on-first-use", "--no-wait"], { env: ssh.env });
    assert.equal(n.code, 0, n.stderr);
    assert.match(n.stdout, /reboots into slot A \(version 1\.0\.0\); it stays only if it confirms/);
  });

  test("the device refuses (nothing to go back to): exit 1 with its reason; bad input: exit 2", async (t) => {
    const dir = scratch(t, "icos-rollback-");
    const dev = device(dir); // fresh: A stable, B empty
    const ssh = deviceSsh(dev, "A");
    const r = await icosAsync(["rollback", "--ssh", "192.0.2.10", "--trust-on-first-use"], { env: ssh.env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error: admin@192\.0\.2\.10:22: the device refused the rollback: slot B holds no system \(no version on its boot partition\): nothing to roll back to/);
    assert.deepEqual([...dev.env_()], [["boot_alternative", "A"], ["boot_cycle", "stable"]]);
    usage(await icosAsync(["status", "--ssh", "host:99999"], { env: ssh.env }), /^error: --ssh: expected HOST\[:PORT\]/);
    usage(await icosAsync(["status", "--ssh", "h", "--known-hosts", join(dir, "nope")], { env: ssh.env }), /^error: --known-hosts .*nope: no such file/);
    usage(await icosAsync(["rollback", "--ssh", "h", "--timeout", "0"], { env: ssh.env }), /^error: --timeout: expected whole seconds, got "0"/);
    usage(await icosAsync(["status", "somevm", "--ssh", "h"], { env: ssh.env }), /^error: a VM \("somevm"\) and --ssh h: give one of them/);
  });

  test("status of a VM from `icos run`: its port and its own known_hosts, learnt on first contact", async (t) => {
    const dir = scratch(t, "icos-status-");
    const dev = await upgradedDevice(dir);
    const ssh = deviceSsh(dev, "B");
    const cache = join(dir, "cache");
    const vm = await fakeVm(t, cache, { name: "guestos-dev", sshPort: 40222 });
    const r = await icosAsync(["status", "--json"], { env: { ...ssh.env, ICOS_CACHE_DIR: cache } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as DeviceStatus).device, "admin@127.0.0.1:40222");
    const argv = ssh.calls()[0]!;
    assert.ok(argv.includes(`UserKnownHostsFile=${vm.rec.knownHosts}`) && argv.includes("StrictHostKeyChecking=accept-new"), argv.join(" "));
  });
});
