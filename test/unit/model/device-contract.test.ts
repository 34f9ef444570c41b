// The device contract: derived from the resolved layout (GPT partitions and LVM volumes), rendered
// as shell that sh reads back to the same values, agreeing with the GPT the build writes, and the
// only place the image's scripts and GRUB files take a device from (the grep below).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { join, relative } from "node:path";
import { openSync, closeSync, writeSync, ftruncateSync } from "node:fs";
import { encodeGpt } from "../../../src/formats/gpt.ts";
import { bootArgs } from "../../../src/build/stages/rootfs.ts";
import { renderGrubTemplate } from "../../../src/build/stages/bootloader.ts";
import { gptFromLayout } from "../../../src/image/layout-gpt.ts";
import { loadBootCycleTable } from "../../../src/model/boot-cycle.ts";
import { deviceContract, renderContractEnv, renderContractJson, VERITY_ROOT_DM_NAME, type DeviceContract } from "../../../src/model/device-contract.ts";
import { loadLayout, resolveLayout, type ResolvedLayout } from "../../../src/model/layout.ts";
import { IC_OS_DIR } from "../../../src/paths.ts";
import { scratch } from "../../helpers/tmp.ts";

const table = loadBootCycleTable();
const layoutOf = (os: string, scale = 1): ResolvedLayout => resolveLayout(loadLayout(join(IC_OS_DIR, os, "layout.yaml")), { scale });
const contractOf = (os: string): DeviceContract => deviceContract(layoutOf(os), table);

test("GuestOS: GPT partitions by label, GRUB devices by partition index, mount points from the layout", () => {
  const c = contractOf("guestos");
  assert.deepEqual(c.grub, { name: "grub", linux: "/dev/disk/by-partlabel/grub", grub: "$bootdisk,gpt2", index: 2, partGuid: c.grub!.partGuid });
  assert.equal(c.config?.mountPoint, "/boot/config");
  assert.equal(c.config?.label, "config"); // the layout's label: what setup-config-partition formats with
  assert.equal(c.bootMount, "/boot");
  assert.equal(c.slots.A?.boot.grub, "$bootdisk,gpt4");
  assert.equal(c.slots.B?.root.linux, "/dev/disk/by-partlabel/B_root");
  assert.equal(c.slots.B?.var?.name, "B_var");
  assert.deepEqual(c.updateImageMembers, ["VERSION.TXT", "boot.img", "root.img"]);
});

test("HostOS: slots in LVM volumes have /dev/<vg>/<lv> and GRUB's lvm/<vg>-<lv> names, no partition GUID", () => {
  const c = contractOf("hostos");
  assert.deepEqual(c.slots.A?.boot, { name: "A_boot", linux: "/dev/hostlvm/A_boot", grub: "lvm/hostlvm-A_boot", mountPoint: "/boot" });
  assert.equal(c.config?.linux, "/dev/hostlvm/config");
  assert.equal(c.grub?.grub, "$bootdisk,gpt2");
  assert.match(bootArgs(c, ""), /^BOOT_ARGS_B="root=\/dev\/hostlvm\/B_root dfinity\.system=B"$/m);
});

test("SetupOS: one boot and root, no slots", () => {
  const c = contractOf("setupos");
  assert.deepEqual(c.slots, {});
  assert.equal(c.boot?.linux, "/dev/disk/by-partlabel/boot");
  assert.equal(c.config?.mountPoint, "/config");
});

test("the next-slot rule comes from boot-cycle.json", () => {
  const c = contractOf("guestos");
  assert.deepEqual(c.switchCycles, table.transitions.filter((t) => t.slot === "other").map((t) => t.boot_cycle));
  assert.ok(c.switchCycles.length > 0);
});

test("the shell form reads back, through sh, to the JSON form's values", (t) => {
  const dir = scratch(t);
  for (const os of ["guestos", "hostos", "setupos", "boundary-guestos"]) {
    const c = contractOf(os);
    const env = join(dir, `${os}.env`);
    writeFileSync(env, renderContractEnv(c));
    const r = spawnSync("sh", ["-euc", '. "$1"; printf "%s\\n" "$ICOS_CONFIG_DEV" "$ICOS_CONFIG_MOUNT" "$ICOS_GRUB_DEV" "$ICOS_SLOTS" "$ICOS_UPDATE_MEMBERS" "${ICOS_CONFIG_LABEL:-}"', "sh", env], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.split("\n").slice(0, 6), [c.config!.linux, c.config!.mountPoint, c.grub!.linux, Object.keys(c.slots).join(" "), c.updateImageMembers.join(" "), c.config!.label ?? ""], os);
    assert.deepEqual(JSON.parse(renderContractJson(c)), JSON.parse(JSON.stringify(c)));
  }
});

test("the kernel's root=PARTUUID= of each slot is the GUID sgdisk reads from the GPT the build writes", (t) => {
  const dir = scratch(t);
  for (const os of ["guestos", "boundary-guestos"]) {
    for (const scale of [1, 1 / 64]) {
      const layout = layoutOf(os, scale);
      const c = deviceContract(layout, table);
      const disk = join(dir, `${os}-${scale}.img`);
      const fd = openSync(disk, "w");
      ftruncateSync(fd, layout.sizeBytes); // sparse: only the GPT regions are written
      for (const r of encodeGpt(gptFromLayout(layout))) writeSync(fd, r.bytes, 0, r.bytes.length, r.offsetBytes);
      closeSync(fd);
      for (const [slot, d] of Object.entries(c.slots)) {
        const info = spawnSync("sgdisk", ["-i", String(d.root.index), disk], { encoding: "utf8" }).stdout;
        const guid = /Partition unique GUID: ([0-9A-F-]+)/.exec(info)?.[1]?.toLowerCase();
        assert.match(info, new RegExp(`Partition name: '${d.root.name}'`));
        assert.match(bootArgs(c, ""), new RegExp(`^BOOT_ARGS_${slot}="root=PARTUUID=${guid} `, "m"), `${os} ${slot}`);
      }
    }
  }
});

test("GRUB templates: every placeholder filled from the contract; an unknown one is an error", () => {
  const c = contractOf("guestos");
  const cfg = renderGrubTemplate(readFileSync(join(IC_OS_DIR, "bootloader/grub.cfg"), "utf8"), c);
  assert.match(cfg, /load_env -f \(\$bootdisk,gpt2\)\/grubenv/);
  assert.match(cfg, /set root=\(\$bootdisk,gpt7\)/);
  assert.match(renderGrubTemplate("@BOOT_A@", contractOf("hostos")), /^\(lvm\/hostlvm-A_boot\)$/);
  assert.throws(() => renderGrubTemplate("@NOPE@", c), /unknown placeholder @NOPE@/);
});

/** Every file an image installs from a component, and the GRUB templates. */
function deviceFiles(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n !== "README.md") out.push(p);
    }
  };
  walk(join(IC_OS_DIR, "components"));
  for (const f of ["grub.cfg", "early.cfg"]) out.push(join(IC_OS_DIR, "bootloader", f));
  return out;
}

const VERITY_DEV_LINE = `VERITY_DEV=/dev/mapper/${VERITY_ROOT_DM_NAME}`;

test("no device script, unit or GRUB file names a partition, slot device or gptN itself", () => {
  const names = new Set<string>();
  for (const os of ["guestos", "hostos", "setupos", "boundary-guestos"]) {
    const c = contractOf(os);
    for (const d of [c.grub, c.config, c.boot, c.root, ...Object.values(c.slots).flatMap((s) => [s.boot, s.root, s.var])]) if (d) names.add(d.name);
  }
  const patterns = [/\bgpt\d+\b/, /by-partlabel/, /by-partuuid/, /\/dev\/(sd|vd|nvme|hostlvm|mapper)/, /\b[AB]_(boot|root|var)\b/, new RegExp(`PARTLABEL=(${[...names].join("|")})\\b`)];
  const found: string[] = [];
  for (const f of deviceFiles()) {
    const text = readFileSync(f, "utf8");
    text.split("\n").forEach((line, i) => {
      if (line === VERITY_DEV_LINE) return; // the initramfs cannot read the contract: checked below
      for (const p of patterns) if (p.test(line)) found.push(`${relative(IC_OS_DIR, f)}:${i + 1}: ${line.trim()} (${p})`);
    });
  }
  assert.deepEqual(found, [], "devices come from the device contract (icos-lib.sh icos_contract)");
});

test("files that cannot read the contract agree with it: sshd's host keys, the config mount unit's name, the verity root's dm name", () => {
  const c = contractOf("guestos");
  const verity = readFileSync(join(IC_OS_DIR, "components/verity-root/etc/initramfs-tools/scripts/local-top/icos-verity"), "utf8");
  assert.ok(verity.split("\n").includes(VERITY_DEV_LINE), `icos-verity sets ${VERITY_DEV_LINE}`);
  const sshd = readFileSync(join(IC_OS_DIR, "components/ssh-host-keys/etc/ssh/sshd_config.d/10-icos-host-keys.conf"), "utf8");
  for (const line of sshd.split("\n").filter((l) => l.startsWith("HostKey "))) assert.ok(line.startsWith(`HostKey ${c.config!.mountPoint}/ssh/`), line);
  const unit = spawnSync("systemd-escape", ["--path", "--suffix=mount", c.config!.mountPoint!], { encoding: "utf8" }).stdout.trim();
  assert.equal(unit, "boot-config.mount");
  for (const f of deviceFiles().filter((p) => p.endsWith(".service"))) {
    for (const m of readFileSync(f, "utf8").matchAll(/\b([\w-]+)\.mount\b/g)) assert.equal(`${m[1]}.mount`, unit, `${relative(IC_OS_DIR, f)} names ${m[0]}`);
  }
});

test("the mount generator writes the running slot's boot mount and the config mount from the contract", (t) => {
  const dir = scratch(t);
  const env = join(dir, "contract.env");
  writeFileSync(env, renderContractEnv(contractOf("guestos")));
  const generator = join(IC_OS_DIR, "components/boot-mounts/usr/lib/systemd/system-generators/icos-boot-mount-generator");
  for (const slot of ["A", "B"]) {
    const out = join(dir, `out-${slot}`);
    mkdirSync(out);
    writeFileSync(join(dir, "cmdline"), `root=PARTUUID=x dfinity.system=${slot} console=ttyS0\n`);
    const r = spawnSync(generator, [out], { env: { ...process.env, ICOS_CONTRACT: env, ICOS_CMDLINE: join(dir, "cmdline"), ICOS_LIB: join(IC_OS_DIR, "components/icos-lib/opt/ic/lib") }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(join(out, "boot.mount"), "utf8"), new RegExp(`What=/dev/disk/by-partlabel/${slot}_boot\\nWhere=/boot\\n`));
    assert.match(readFileSync(join(out, "boot-config.mount"), "utf8"), /What=\/dev\/disk\/by-partlabel\/config\nWhere=\/boot\/config\n/);
    assert.match(readFileSync(join(out, "setup-config-partition.service.d/device.conf"), "utf8"), /Requires=dev-disk-by\\x2dpartlabel-config\.device/);
    assert.deepEqual(readdirSync(join(out, "local-fs.target.wants")).sort(), ["boot-config.mount", "boot.mount"]);
  }
});
