// The registry of running VMs and stopping one, against a stand-in QEMU (test/helpers/fake-qemu.ts:
// node running as "qemu-system-x86_64" in a work directory, serving ser.sock and qmp.sock). What
// is tested is our side: which records count, which VM an argument names, the QMP exchange and the
// powerdown -> SIGTERM -> SIGKILL order. Real QEMU is the slow tier's (test/slow/vm/run.test.ts).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../../src/errors.ts";
import { qmpCommand } from "../../../src/vm/qmp.ts";
import { defaultVmName, findVm, isQemuIn, leftoverWorkDirs, listVms, readRecord, targetOfDisk, writeRecord } from "../../../src/vm/registry.ts";
import { stopVm } from "../../../src/vm/stop-vm.ts";
import { fakeVm } from "../../helpers/fake-qemu.ts";
import { scratch } from "../../helpers/tmp.ts";

const envOf = (cache: string): NodeJS.ProcessEnv => ({ ICOS_CACHE_DIR: cache });

describe("VM registry", { timeout: 60_000 }, () => {
  test("a record counts only while its pid is a QEMU running in its work directory", async (t) => {
    const cache = scratch(t, "icos-registry-");
    const live = await fakeVm(t, cache, { name: "live", target: "guestos/dev" });
    // The pid of a process that is not QEMU (this test runner), one that is gone, and a QEMU elsewhere.
    const notQemu = await fakeVm(t, cache, { name: "reused" });
    writeRecord({ ...notQemu.rec, pid: process.pid });
    const gone = await fakeVm(t, cache, { name: "gone" });
    gone.child.kill("SIGKILL");
    await gone.exited;
    const elsewhere = await fakeVm(t, cache, { name: "elsewhere" });
    writeRecord({ ...elsewhere.rec, pid: live.rec.pid });
    mkdirSync(join(cache, "vm", "garbage-x"));
    writeFileSync(join(cache, "vm", "garbage-x", "vm.json"), "{ not json");

    assert.equal(isQemuIn(live.rec.pid, live.rec.workDir), true);
    assert.equal(isQemuIn(process.pid, notQemu.rec.workDir), false);
    assert.equal(isQemuIn(live.rec.pid, notQemu.rec.workDir), false, "a QEMU in another directory is not this VM");
    const vms = listVms(envOf(cache));
    assert.deepEqual(vms.map((v) => v.name), [live.rec.name]);
    assert.deepEqual(vms[0], live.rec);
    // Dropped records are removed; the live one stays; an unreadable one is ignored.
    assert.equal(existsSync(join(notQemu.rec.workDir, "vm.json")), false);
    assert.equal(existsSync(join(gone.rec.workDir, "vm.json")), false);
    assert.equal(existsSync(join(elsewhere.rec.workDir, "vm.json")), false);
    assert.ok(readRecord(live.rec.workDir));
  });

  test("findVm: by name, unique start of a name, pid or target; the one VM without an argument; errors name what runs", async (t) => {
    const cache = scratch(t, "icos-registry-");
    const env = envOf(cache);
    assert.throws(() => findVm(undefined, env), (e: unknown) => e instanceof UserError && /no running VM: none was started by `icos run` with this cache/.test(e.message));
    const a = await fakeVm(t, cache, { name: "guestos-dev", target: "guestos/dev" });
    assert.equal(findVm(undefined, env).name, a.rec.name);
    const b = await fakeVm(t, cache, { name: "tinyos-dev", target: "tinyos/dev" });
    const c = await fakeVm(t, cache, { name: "tinyos-dev", target: "tinyos/dev" });
    assert.equal(findVm(a.rec.name, env).pid, a.rec.pid);
    assert.equal(findVm("guestos", env).pid, a.rec.pid);
    assert.equal(findVm(String(b.rec.pid), env).name, b.rec.name);
    assert.equal(findVm("guestos/dev", env).pid, a.rec.pid);
    assert.equal(findVm(c.rec.name, env).pid, c.rec.pid);
    const fails = (arg: string | undefined, message: RegExp) =>
      assert.throws(() => findVm(arg, env), (e: unknown) => e instanceof UserError && e.exitCode === 2 && message.test(e.message), String(arg));
    fails(undefined, /^3 VMs are running; say which VM: guestos-dev-\w+ \(guestos\/dev, pid \d+\), tinyos-dev-/);
    fails("tinyos/dev", /^"tinyos\/dev" matches 2 running VMs: tinyos-dev-\w+ \(tinyos\/dev, pid \d+\), tinyos-dev-\w+/);
    fails("tinyos-d", /^"tinyos-d" matches 2 running VMs/);
    fails("hostos", /^no running VM "hostos"; running: guestos-dev-/);
  });

  test("names and targets come from the build output: manifest.json beside disk.img", (t) => {
    const dir = scratch(t, "icos-registry-");
    mkdirSync(join(dir, "guestos/dev"), { recursive: true });
    writeFileSync(join(dir, "guestos/dev/manifest.json"), JSON.stringify({ target: "guestos/dev" }));
    assert.equal(targetOfDisk(join(dir, "guestos/dev/disk.img")), "guestos/dev");
    assert.equal(targetOfDisk(join(dir, "disk.img")), undefined);
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ target: "../../etc" }));
    assert.equal(targetOfDisk(join(dir, "disk.img")), undefined, "a manifest's target is used only if it looks like one");
    assert.equal(defaultVmName(join(dir, "guestos/dev/disk.img"), "guestos/dev"), "guestos-dev");
    assert.equal(defaultVmName("/tmp/my disk.img", undefined), "my_disk");
  });

  test("left-over work directories: no QEMU runs in them and they are not brand new", async (t) => {
    const cache = scratch(t, "icos-registry-");
    const live = await fakeVm(t, cache, { name: "live" });
    const old = Date.now() / 1000 - 3600;
    utimesSync(live.rec.workDir, old, old);
    const dead = join(cache, "vm", "dead-abc123");
    const young = join(cache, "vm", "young-abc123");
    mkdirSync(dead);
    mkdirSync(young);
    utimesSync(dead, old, old);
    writeFileSync(join(cache, "vm", "not-a-dir"), "");
    assert.deepEqual(leftoverWorkDirs(envOf(cache)), [dead]);
  });
});

describe("stopping a VM", { timeout: 60_000 }, () => {
  test("QMP: capabilities, then the command; an error answer is an error", async (t) => {
    const cache = scratch(t, "icos-stop-");
    const vm = await fakeVm(t, cache, { powerdown: "ignore" });
    assert.deepEqual(await qmpCommand(vm.rec.qmpSocket!, "system_powerdown"), {});
    await assert.rejects(qmpCommand(vm.rec.qmpSocket!, "no-such-command"), /QMP no-such-command: The command no-such-command has not been found/);
    await assert.rejects(qmpCommand(join(cache, "missing.sock"), "system_powerdown"), /cannot connect to .*missing\.sock: ENOENT/);
    assert.equal(readFileSync(join(vm.rec.workDir, "qmp.log"), "utf8"), "qmp_capabilities\nsystem_powerdown\nqmp_capabilities\nno-such-command\n");
  });

  test("a guest that powers off: stopped by the powerdown; record, sockets and overlay removed", async (t) => {
    const cache = scratch(t, "icos-stop-");
    const vm = await fakeVm(t, cache);
    const notes: string[] = [];
    const r = await stopVm(vm.rec, { powerdownMs: 10_000, note: (l) => notes.push(l) });
    assert.equal(r.how, "powerdown");
    assert.ok(r.seconds < 5, `took ${r.seconds} s`);
    for (const f of ["vm.json", "ser.sock", "qmp.sock", "overlay.qcow2"]) assert.equal(existsSync(join(vm.rec.workDir, f)), false, f);
    assert.match(notes.join("\n"), /asked the guest to power off \(ACPI\)/);
    assert.deepEqual(listVms(envOf(cache)), []);
  });

  test("a guest that ignores the powerdown gets SIGTERM; a QEMU that ignores SIGTERM gets SIGKILL; keep keeps the overlay", async (t) => {
    const cache = scratch(t, "icos-stop-");
    const deaf = await fakeVm(t, cache, { powerdown: "ignore" });
    const r1 = await stopVm(deaf.rec, { powerdownMs: 300 });
    assert.equal(r1.how, "sigterm");
    const stubborn = await fakeVm(t, cache, { powerdown: "ignore", sigterm: "ignore", keep: true });
    const r2 = await stopVm(stubborn.rec, { powerdownMs: 0, termMs: 300 });
    assert.equal(r2.how, "sigkill");
    assert.match(readFileSync(join(stubborn.rec.workDir, "fake.log"), "utf8"), /SIGTERM ignored/);
    assert.equal(existsSync(join(stubborn.rec.workDir, "overlay.qcow2")), true, "keep: the overlay stays");
    assert.equal(existsSync(join(stubborn.rec.workDir, "qmp.log")), false, "powerdownMs 0 asks for no powerdown");
    // Already gone: nothing is signalled, the record goes.
    assert.equal((await stopVm(deaf.rec, { powerdownMs: 1000 })).how, "gone");
  });

  test("a pid that is no longer the VM's QEMU is never signalled", async (t) => {
    const cache = scratch(t, "icos-stop-");
    const vm = await fakeVm(t, cache);
    const bystander = spawn("sleep", ["30"]);
    t.after(() => bystander.kill("SIGKILL"));
    const r = await stopVm({ ...vm.rec, pid: bystander.pid! }, { powerdownMs: 1000, termMs: 300 });
    assert.equal(r.how, "gone");
    assert.equal(bystander.exitCode, null);
    assert.equal(bystander.signalCode, null);
    assert.equal(isQemuIn(vm.rec.pid, vm.rec.workDir), true, "the real VM was not touched either (no powerdown asked of it)");
  });
});
