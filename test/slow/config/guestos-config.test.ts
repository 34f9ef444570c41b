// Slow tier: GuestOS identity and config injection, in a VM with a CONFIG media.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureGuestosBase, icosJson } from "../../helpers/build.ts";
import { configMediaWithKey, consoleDialog, nthLine, rebootFromConsole, ssh, sshHostKey, waitForSsh } from "../../helpers/vm.ts";
import { scratch } from "../../helpers/tmp.ts";
import { ROOT } from "../../../src/paths.ts";
import { startVm } from "../../../src/vm/vm.ts";
import { READY_LINE } from "../../../src/vm/console.ts";

const FIXTURE = join(ROOT, "test/fixtures/vm/node-deterministic.json");
const BOOT_MS = 300_000;

let disk = "";

describe("guestos identity and config injection", { concurrency: false }, () => {
  before(() => {
    ensureGuestosBase();
    const { json } = icosJson<{ outDir: string }>(["build", "guestos/dev", "--scale", "1/64"]);
    disk = join(json.outDir, "disk.img");
  });

  test("with a CONFIG media: ssh as admin, identity from the config, and the same after a reboot", async (t) => {
    const dir = scratch(t, "icos-cfg-");
    const { media, key } = configMediaWithKey(dir, FIXTURE);
    const vm = await startVm({ disk, configMedia: media, name: "config-test" });
    t.after(() => vm.stop());
    const ready = await vm.waitReady(BOOT_MS);
    t.diagnostic(`ready after ${ready.seconds.toFixed(1)} s`);
    await waitForSsh(vm.sshPort, "admin", key, 60_000);

    const run = (cmd: string) => {
      const r = ssh(vm.sshPort, "admin", key, cmd);
      assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
      return r.stdout.trim();
    };
    // Expected values come from the host-side implementation (src/config/derive.ts).
    const { guestIpv6, guestHostname } = await import("../../../src/config/derive.ts");
    const { loadConfig } = await import("../../../src/config/versions.ts");
    const config = loadConfig(FIXTURE);
    assert.equal(run("hostname"), guestHostname(config));
    const addresses = run("ip -6 -o addr show scope global");
    const want = new URL(`http://[${guestIpv6(config)}]/`).hostname.slice(1, -1);
    assert.match(addresses, new RegExp(`inet6 ${want}/64`), addresses);
    assert.match(run("cat /run/systemd/network/10-icos.network"), /Address=10\.0\.2\.15\/24/);
    assert.equal(run("systemctl --failed --no-legend --plain | wc -l"), "0");
    assert.equal(run("id -un"), "admin");
    // Password logins are off: sshd offers only publickey.
    const pw = ssh(vm.sshPort, "admin", "/dev/null", "true", ["-o", "PreferredAuthentications=password", "-o", "BatchMode=yes"]);
    assert.notEqual(pw.code, 0);
    assert.match(pw.stderr, /Permission denied \(publickey\)/);
    const hostKey = () => sshHostKey(vm.sshPort);
    const before = { machineId: run("cat /etc/machine-id"), hostKey: hostKey() };
    assert.equal(run("cat /boot/config/machine-id"), before.machineId);

    // Reboot from the console (dev: root/root), then compare the identity.
    run("sync");
    const second = nthLine(vm, READY_LINE, 2, BOOT_MS);
    await rebootFromConsole(vm);
    assert.match(await second, /state=running failed=0/);
    await waitForSsh(vm.sshPort, "admin", key, 60_000);
    assert.equal(run("cat /etc/machine-id"), before.machineId);
    assert.equal(hostKey(), before.hostKey);
  });

  test("without a CONFIG media the failure is reported on the console, and the dev console still works", async (t) => {
    const vm = await startVm({ disk, name: "no-config-test" });
    t.after(() => vm.stop());
    await vm.waitFor(/bootstrap-ic-node: ERROR: no CONFIG media/, BOOT_MS);
    const line = await vm.waitFor(READY_LINE, BOOT_MS);
    assert.doesNotMatch(line, /failed=0/);
    await consoleDialog(vm, [
      { expect: /login: ?$/, send: "root\n" },
      { expect: /Password: ?$/, send: "root\n" },
      { expect: /# ?$/, send: "journalctl -u bootstrap-ic-node --no-pager | grep -c 'ERROR: no CONFIG media'\n" },
      { expect: /^[1-9]\d*\r?$/m, send: "exit\n" },
    ], 60_000);
  });

  test("a malformed CONFIG media is refused with a clear message", async (t) => {
    const dir = scratch(t, "icos-cfg-");
    // A vfat labelled CONFIG whose config.json is not JSON.
    const files = join(dir, "files");
    mkdirSync(files);
    writeFileSync(join(files, "config.json"), "not json\n");
    const { buildVfat } = await import("../../../src/image/vfat.ts");
    const media = join(dir, "bad.img");
    await buildVfat({ out: media, sizeBytes: 16 << 20, label: "CONFIG", volumeId: "C0FFEE00", files, sourceDateEpoch: 1700000000 });
    const vm = await startVm({ disk, configMedia: media, name: "bad-config-test" });
    t.after(() => vm.stop());
    await vm.waitFor(/bootstrap-ic-node: ERROR: config\.json on the CONFIG media is not a JSON object/, BOOT_MS);

  });
});
