// A guest reboot gets a fresh QEMU (vm.ts): QEMU runs with -no-reboot and a second QMP socket; on
// a SHUTDOWN event with reason guest-reset and exit 0, the Vm starts QEMU again with the same
// arguments. Against the stand-in QEMU (test/fixtures/fake-qemu/main.mjs, reboot=MS).
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../../src/paths.ts";
import { startVm } from "../../../src/vm/vm.ts";
import { readRecord } from "../../../src/vm/registry.ts";
import { scratch } from "../../helpers/tmp.ts";

test("a guest reboot: QEMU exits (-no-reboot) and a fresh one starts in the same work dir; the record follows its pid", async (t) => {
  const dir = scratch(t, "icos-respawn-");
  mkdirSync(join(dir, "bin"));
  const fake = join(dir, "bin", "qemu-system-x86_64");
  writeFileSync(fake, `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, "test/fixtures/fake-qemu/main.mjs")}" reboot=300 "$@"\n`);
  chmodSync(fake, 0o755);
  const disk = join(dir, "disk.img");
  writeFileSync(disk, Buffer.alloc(1 << 20));
  const path = process.env.PATH;
  process.env.PATH = `${join(dir, "bin")}:${path}`;
  t.after(() => (process.env.PATH = path));
  const ovmf = join(dir, "OVMF.fd");
  writeFileSync(ovmf, "");
  const vm = await startVm({ disk, workDir: join(dir, "vm"), ovmf, accel: { accel: "tcg", reason: "test", cached: false }, env: { ...process.env, ICOS_CACHE_DIR: join(dir, "cache") } });
  const first = vm.pid;
  const argv = readFileSync(`/proc/${first}/cmdline`, "utf8").split("\0");
  assert.ok(argv.includes("-no-reboot"));
  assert.ok(argv.some((a) => a.startsWith("unix:qmp-ev.sock,")));
  for (let i = 0; i < 100 && vm.pid === first; i++) await new Promise((r) => setTimeout(r, 50));
  assert.notEqual(vm.pid, first, "no new QEMU after the guest reset");
  assert.equal(readRecord(vm.workDir)?.pid, vm.pid);
  assert.match(readFileSync(vm.qemuLog, "utf8"), /the guest rebooted; starting a fresh QEMU/);
  assert.ok(existsSync(join(vm.workDir, "rebooted.log")));
  await vm.stop();
  const exit = await vm.exited;
  assert.notEqual(exit.code, 0); // stopped by us (SIGTERM), not respawned
});
