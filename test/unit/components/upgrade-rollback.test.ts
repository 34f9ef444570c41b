// manageboot.sh rollback, on the host against files standing in for the partitions (as
// upgrade.test.ts): from a confirmed system it makes GRUB boot the other slot once (the same
// grubenv as an upgrade's commit), and it refuses whenever the other slot is not a previous system
// to go back to, leaving grubenv as it was and not rebooting.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeGrubenv } from "../../../src/formats/grubenv.ts";
import { bootOnce, loadBootCycleTable } from "../../../src/model/boot-cycle.ts";
import { device, MIB, updateImage, type Device } from "../../helpers/manageboot.ts";
import { scratch } from "../../helpers/tmp.ts";

/** Put an ext4 boot image carrying `version` at the start of a slot's boot partition. */
function bootHolds(dev: Device, slot: "A" | "B", boot: Buffer): void {
  const part = Buffer.alloc(8 * MIB, 0x55);
  boot.copy(part);
  writeFileSync(join(dev.parts, `${slot}_boot`), part);
}

test("rollback from a confirmed B boots A once (first_boot), reboots, and A stays once it confirms", async (t) => {
  const dir = scratch(t, "icos-rollback-");
  const dev = device(dir, { boot_alternative: "B", boot_cycle: "stable" });
  bootHolds(dev, "A", (await updateImage(dir, "1.0.0")).boot);
  bootHolds(dev, "B", (await updateImage(dir, "2.0.0")).boot);
  assert.match(dev.run(["status"], { slot: "B" }).stdout, /^current=B\ntarget=A\nboot_alternative=B\nboot_cycle=stable\nnext=B\nversion=1\.0\.0\nversion_A=1\.0\.0\nversion_B=2\.0\.0\n$/);

  const r = dev.run(["rollback"], { slot: "B" });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /rollback: the next boot runs slot A \(version 1\.0\.0\) once; it stays only if it confirms/);
  assert.ok(existsSync(join(dir, "rebooted")), "rollback reboots");
  // The bytes grub-editenv would write, and the boot protocol table boots A next.
  assert.deepEqual(readFileSync(dev.grubenv), encodeGrubenv({ boot_alternative: "A", boot_cycle: "first_boot" }));
  const listed = spawnSync("grub-editenv", [dev.grubenv, "list"], { encoding: "utf8" });
  assert.equal(listed.stdout, "boot_alternative=A\nboot_cycle=first_boot\n", listed.stderr);
  assert.equal(dev.run(["next"], { slot: "B" }).stdout, "A\n");
  const booted = bootOnce(loadBootCycleTable(), Object.fromEntries(dev.env_()));
  assert.equal(booted.slot, "A");

  // A boots (failsafe_check) and confirms: it stays.
  writeFileSync(dev.grubenv, encodeGrubenv({ ...booted.env }));
  const ok = dev.run(["confirm"], { slot: "A" });
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual([...dev.env_()], [["boot_alternative", "A"], ["boot_cycle", "stable"]]);
  // Had A not confirmed, GRUB would have gone back to B.
  assert.equal(bootOnce(loadBootCycleTable(), { boot_alternative: "A", boot_cycle: "failsafe_check" }).slot, "B");
});

test("rollback --no-reboot only rewrites grubenv", async (t) => {
  const dir = scratch(t, "icos-rollback-");
  const dev = device(dir, { boot_alternative: "A", boot_cycle: "stable", saved_entry: "1" });
  bootHolds(dev, "B", (await updateImage(dir, "0.9.0")).boot);
  const r = dev.run(["rollback", "--no-reboot"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(join(dir, "rebooted")), false);
  assert.deepEqual([...dev.env_()], [["boot_alternative", "B"], ["boot_cycle", "first_boot"], ["saved_entry", "1"]], "other variables are kept");
  assert.equal(dev.run(["rollback", "--now"]).code, 2, "an unknown option is a usage error");
});

test("rollback refuses when there is no previous system to go back to; grubenv untouched, no reboot", async (t) => {
  const dir = scratch(t, "icos-rollback-");
  const boot = (await updateImage(dir, "1.0.0")).boot;
  const cases: { name: string; env: Record<string, string>; slot: "A" | "B"; otherHasSystem: boolean; why: RegExp }[] = [
    { name: "fresh", env: { boot_alternative: "A", boot_cycle: "stable" }, slot: "A", otherHasSystem: false, why: /slot B holds no system \(no version on its boot partition\): nothing to roll back to/ },
    { name: "installed", env: { boot_alternative: "A", boot_cycle: "install" }, slot: "A", otherHasSystem: true, why: /slot B holds an installed upgrade that is not committed, not the previous system/ },
    { name: "on-trial", env: { boot_alternative: "B", boot_cycle: "failsafe_check" }, slot: "B", otherHasSystem: true, why: /slot B is not confirmed yet \(boot_cycle=failsafe_check\): a reboot before it confirms returns to slot A/ },
    { name: "pending", env: { boot_alternative: "B", boot_cycle: "first_boot" }, slot: "A", otherHasSystem: true, why: /grubenv boots slot B next but slot A is running: a boot of slot B is already pending/ },
  ];
  for (const c of cases) {
    const dev = device(join(dir, c.name), c.env);
    if (c.otherHasSystem) bootHolds(dev, c.slot === "A" ? "B" : "A", boot);
    const before = readFileSync(dev.grubenv);
    const r = dev.run(["rollback"], { slot: c.slot });
    assert.equal(r.code, 1, `${c.name}: ${r.stderr}`);
    assert.match(r.stderr, c.why, c.name);
    assert.deepEqual(readFileSync(dev.grubenv), before, `${c.name}: grubenv changed`);
    assert.equal(existsSync(join(dev.dir, "rebooted")), false, `${c.name}: rebooted`);
  }
});
