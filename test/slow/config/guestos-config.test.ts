// Slow tier: GuestOS identity and config injection, in a VM with a CONFIG media.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sharedBuild } from "../../helpers/build.ts";
import { configMediaWithKey, consoleDialog, nthLine, ssh, sshHostKey, waitForSsh } from "../../helpers/vm.ts";
import { scratch } from "../../helpers/tmp.ts";
import { IC_OS_DIR, ROOT } from "../../../src/paths.ts";
import { startVm } from "../../../src/vm/vm.ts";
import { READY_LINE } from "../../../src/vm/console.ts";
import { VAR_DM_NAME, VERITY_ROOT_DM_NAME } from "../../../src/model/device-contract.ts";

const FIXTURE = join(ROOT, "test/fixtures/vm/node-deterministic.json");
const BOOT_MS = 300_000;

let disk = "";

describe("guestos identity and config injection", { concurrency: false }, () => {
  before(() => {
    disk = join(sharedBuild<{ outDir: string }>(["guestos/dev", "--scale", "1/64", "--artifacts"]).outDir, "disk.img");
  });

  test("with a CONFIG media: ssh as admin, identity from the config, and the same after a reboot", async (t) => {
    const dir = scratch(t, "icos-cfg-");
    const { media, key } = configMediaWithKey(dir, FIXTURE, ["admin", "readonly", "backup"]);
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
    // The boot trims hold: no blacklisted driver loaded (vm-guest-modules), no masked generator ran
    // (guest-generators: the SysV one would have made a unit of /etc/init.d/hwclock.sh).
    const blacklisted = [...readFileSync(join(IC_OS_DIR, "components/vm-guest-modules/etc/modprobe.d/icos-vm-guest.conf"), "utf8").matchAll(/^blacklist (\S+)$/gm)].map((m) => m[1]!);
    assert.ok(blacklisted.length > 5);
    const loaded = run("cut -d' ' -f1 /proc/modules").split("\n");
    assert.deepEqual(blacklisted.filter((m) => loaded.includes(m)), []);
    assert.equal(run("ls /run/systemd/generator.late/hwclock.service 2>/dev/null | wc -l"), "0");
    // Nothing answers on LLMNR's port 5355 (systemd-resolved's default; network-config turns it off).
    assert.doesNotMatch(run("ss -Hlntu"), /:5355\b/);
    // The configuration this boot used is saved (save-ic-node-config, after networking).
    assert.equal(run("systemctl is-active save-ic-node-config.service"), "active");
    // Password logins are off: sshd offers only publickey.
    const pw = ssh(vm.sshPort, "admin", "/dev/null", "true", ["-o", "PreferredAuthentications=password", "-o", "BatchMode=yes"]);
    assert.notEqual(pw.code, 0);
    assert.match(pw.stderr, /Permission denied \(publickey\)/);
    // Secrets are root's: readonly and backup (and admin, who is not root) read none of them.
    const secrets = ["/run/config/config.json", "/run/config/accounts_ssh_authorized_keys/admin", "/boot/config/bootstrap/config.json", "/boot/config/ssh/etc/ssh/ssh_host_ed25519_key"];
    for (const user of ["readonly", "backup", "admin"]) {
      const r = ssh(vm.sshPort, user, key, `for f in ${secrets.join(" ")}; do cat "$f" >/dev/null 2>&1 && echo "READABLE $f"; done; ls /boot/config /run/config 2>&1; echo done`);
      assert.equal(r.code, 0, `${user}: ${r.stderr}`);
      assert.doesNotMatch(r.stdout, /READABLE/, user);
      assert.match(r.stdout, /ls: cannot open directory '\/boot\/config': Permission denied[\s\S]*ls: cannot open directory '\/run\/config': Permission denied[\s\S]*done/, user);
    }
    assert.equal(run("stat -c '%a %U' /run/config /boot/config"), "700 root\n700 root");

    // Storage: / is the verity device, read-only; /var the running slot's LUKS2 volume; /tmp a tmpfs.
    // sysfs tells a dm device's kind to any user: CRYPT-VERITY-... or CRYPT-LUKS2-<uuid>-<name>.
    const dmUuid = (name: string) => run(`for d in /sys/block/dm-*/dm; do [ "$(cat $d/name)" = ${name} ] && cat $d/uuid; done; true`);
    assert.match(run("findmnt -no SOURCE,FSTYPE,OPTIONS /"), new RegExp(`^/dev/mapper/${VERITY_ROOT_DM_NAME}\\s+ext4\\s+ro,`));
    assert.match(dmUuid(VERITY_ROOT_DM_NAME), /^CRYPT-VERITY-/);
    assert.match(run("findmnt -no SOURCE,FSTYPE,OPTIONS /var"), new RegExp(`^/dev/mapper/${VAR_DM_NAME}\\s+ext4\\s+rw,nosuid,nodev`));
    const varUuid = dmUuid(VAR_DM_NAME);
    assert.match(varUuid, new RegExp(`^CRYPT-LUKS2-[0-9a-f]{32}-${VAR_DM_NAME}$`));
    assert.equal(run("findmnt -no FSTYPE /tmp"), "tmpfs");
    run("echo kept > /var/tmp/icos-persist-test");

    const hostKey = () => sshHostKey(vm.sshPort);
    const before = { machineId: run("cat /etc/machine-id"), hostKey: hostKey() };

    // As root on the console (dev: root/root; /boot/config is root's): the saved machine-id, then a reboot.
    run("sync");
    const second = nthLine(vm, READY_LINE, 2, BOOT_MS);
    await consoleDialog(vm, [
      { expect: /login: ?$/, send: "root\n" },
      { expect: /Password: ?$/, send: "root\n" },
      { expect: /# ?$/, send: "sed 's/^/SAVED-/' /boot/config/machine-id\n" },
      { expect: new RegExp(`^SAVED-${before.machineId}\\r?$`, "m"), send: "systemctl reboot\n" },
    ], 60_000);
    assert.match(await second, /state=running failed=0/);
    await waitForSsh(vm.sshPort, "admin", key, 60_000);
    assert.equal(run("cat /etc/machine-id"), before.machineId);
    assert.equal(hostKey(), before.hostKey);
    // The same LUKS volume (its uuid is in the dm uuid), opened, not reformatted: the file is there.
    assert.equal(dmUuid(VAR_DM_NAME), varUuid);
    assert.equal(run("cat /var/tmp/icos-persist-test"), "kept");
  });

  test("without a CONFIG media the failure is reported on the console, and the dev console still works", async (t) => {
    const vm = await startVm({ disk, name: "no-config-test" });
    t.after(() => vm.stop());
    await vm.waitFor(/bootstrap-ic-node: ERROR: no CONFIG media/, BOOT_MS);
    const line = await vm.waitFor(READY_LINE, BOOT_MS);
    assert.doesNotMatch(line, /failed=0/);
    // IC-OS's boot result line names the failed unit (HostOS watches for it).
    assert.match(await vm.waitFor(/GUESTOS BOOT (SUCCESS|FAILURE).*/, 30_000), /GUESTOS BOOT FAILURE: .*bootstrap-ic-node\.service/);
    await consoleDialog(vm, [
      { expect: /login: ?$/, send: "root\n" },
      { expect: /Password: ?$/, send: "root\n" },
      { expect: /# ?$/, send: "journalctl -u bootstrap-ic-node --no-pager | grep -c 'ERROR: no CONFIG media'\n" },
      { expect: /^[1-9]\d*\r?$/m, send: "exit\n" },
    ], 60_000);
  });

  test("a hostile CONFIG media (shell words in a field, a newline into the .network file) is refused on the console; nothing of it runs", async (t) => {
    const dir = scratch(t, "icos-cfg-");
    // The media icos would never write, made by hand: what a compromised host could attach.
    const config = JSON.parse(readFileSync(FIXTURE, "utf8")) as Record<string, any>;
    config.network_settings.ipv6_config.Deterministic.prefix = ["x", "sh", "-c", "touch /run/PWNED; echo PWNED > /dev/console"];
    config.network_settings.domain_name = "example.org\n[Network]\nDNS=203.0.113.1";
    const files = join(dir, "files");
    mkdirSync(files);
    writeFileSync(join(files, "config.json"), JSON.stringify(config, null, 2));
    const { buildVfat } = await import("../../../src/image/vfat.ts");
    const media = join(dir, "hostile.img");
    await buildVfat({ out: media, sizeBytes: 16 << 20, label: "CONFIG", volumeId: "C0FFEE00", files, sourceDateEpoch: 1700000000 });
    const vm = await startVm({ disk, configMedia: media, name: "hostile-config-test" });
    t.after(() => vm.stop());
    const refused = await vm.waitFor(/bootstrap-ic-node: ERROR: CONFIG media refused/, BOOT_MS);
    assert.match(refused, /config\.json: network_settings\.ipv6_config\.Deterministic\.prefix: expected string/);
    const ready = await vm.waitFor(READY_LINE, BOOT_MS);
    assert.doesNotMatch(ready, /failed=0/, "the node does not come up as if configured");
    // Nothing ran, nothing was kept, nothing configured the network.
    await consoleDialog(vm, [
      { expect: /login: ?$/, send: "root\n" },
      { expect: /Password: ?$/, send: "root\n" },
      { expect: /# ?$/, send: "ls -d /run/PWNED /run/config /boot/config/bootstrap /run/systemd/network/10-icos.network 2>/dev/null | wc -l | sed 's/^/FOUND-/'\n" },
      { expect: /^FOUND-0\r?$/m, send: "exit\n" },
    ], 60_000);
    assert.doesNotMatch(readFileSync(vm.serialLog, "latin1"), /^PWNED\r?$/m, "the injected command did not run");
  });
});
