// The QEMU command line, golden: any change to it shows up here as a reviewed diff. The slow tier
// (test/slow/vm/run.test.ts) boots with exactly these arguments.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseMemoryMiB, qemuArgs, qemuValue, type QemuArgsOptions } from "../../../src/vm/qemu-args.ts";
import { UserError } from "../../../src/errors.ts";
import { MILESTONES, PANIC_LINE, READY_LINE, cleanConsoleText, parseReadyLine } from "../../../src/vm/vm.ts";

const BASE: QemuArgsOptions = {
  accel: "tcg",
  ovmf: "/usr/share/ovmf/OVMF.fd",
  overlay: "overlay.qcow2",
  memoryMiB: 2048,
  cpus: 2,
  sshPort: 2222,
  serialSocket: "ser.sock",
  serialLog: "serial.log",
};

// The part every option set shares after the machine, CPU and memory options.
const DEVICES = [
  "-bios", "/usr/share/ovmf/OVMF.fd",
  "-nodefaults",
  "-drive", "if=none,id=disk0,file=overlay.qcow2,format=qcow2",
  "-device", "virtio-blk-pci,drive=disk0,bootindex=0",
  "-netdev", "user,id=n0,ipv4=on,ipv6=on,ipv6-prefix=fd00:cafe::,ipv6-prefixlen=64,hostfwd=tcp:127.0.0.1:2222-:22",
  "-device", "virtio-net-pci,netdev=n0,romfile=",
  "-chardev", "socket,id=ser0,path=ser.sock,server=on,wait=off,logfile=serial.log,logappend=on",
  "-serial", "chardev:ser0",
  "-display", "none",
  "-monitor", "none",
];

describe("qemuArgs", () => {
  test("TCG, defaults: cpu max, no USB, reboots allowed", () => {
    assert.deepEqual(qemuArgs(BASE), ["-machine", "q35,smm=off", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "2048", ...DEVICES]);
  });

  test("KVM with a config media and -no-reboot", () => {
    assert.deepEqual(qemuArgs({ ...BASE, accel: "kvm", cpus: 4, memoryMiB: 4096, configMedia: "/data/config.img", noReboot: true }), [
      "-machine", "q35,smm=off", "-accel", "kvm", "-cpu", "host", "-smp", "4", "-m", "4096",
      ...DEVICES,
      "-device", "qemu-xhci,id=xhci",
      "-drive", "if=none,id=cfg,file=/data/config.img,format=raw,readonly=on",
      "-device", "usb-storage,bus=xhci.0,drive=cfg,removable=on",
      "-no-reboot",
    ]);
  });

  test("commas in paths are doubled, as QEMU's option syntax requires", () => {
    const args = qemuArgs({ ...BASE, overlay: "/tmp/a,b/overlay.qcow2", serialLog: "/x,y/serial.log", configMedia: "c,d.img" });
    assert.ok(args.includes("if=none,id=disk0,file=/tmp/a,,b/overlay.qcow2,format=qcow2"));
    assert.ok(args.includes("socket,id=ser0,path=ser.sock,server=on,wait=off,logfile=/x,,y/serial.log,logappend=on"));
    assert.ok(args.includes("if=none,id=cfg,file=c,,d.img,format=raw,readonly=on"));
    assert.equal(qemuValue("no-comma"), "no-comma");
  });

  test("ipv4=on is always explicit (with only ipv6=on QEMU 7.2 turns IPv4 off)", () => {
    const netdev = qemuArgs(BASE)[qemuArgs(BASE).indexOf("-netdev") + 1];
    assert.match(netdev!, /ipv4=on,ipv6=on/);
  });
});

describe("--memory sizes", () => {
  test("MiB by default, or with a binary unit M, MiB, G or GiB", () => {
    const cases: [string, number][] = [["2048", 2048], ["2048M", 2048], ["512MiB", 512], ["2G", 2048], ["2GiB", 2048], ["4g", 4096], ["1024 MiB", 1024], ["128", 128], ["1024G", 1 << 20]];
    for (const [text, mib] of cases) assert.equal(parseMemoryMiB(text), mib, text);
  });

  test("anything else is a UserError naming the flag and the value", () => {
    for (const text of ["", "2T", "2GB", "2048MB", "1.5G", "-1", "0x800", "two", "G"]) {
      assert.throws(() => parseMemoryMiB(text), (e: unknown) => e instanceof UserError && e.message === `--memory: expected a memory size such as 2048, 2048M, 512MiB, 2G or 2GiB, got ${JSON.stringify(text)}`, text);
    }
    assert.throws(() => parseMemoryMiB("64M"), /^UserError: --memory: "64M" is 64 MiB; expected 128 MiB to 1024 GiB$/);
    assert.throws(() => parseMemoryMiB("2048G"), /"2048G" is 2097152 MiB; expected 128 MiB to 1024 GiB/);
  });
});

describe("serial console parsing", () => {
  // What OVMF + GRUB actually write (captured from serial.log): colours, then text, then \n\r.
  const GRUB_READY = "\r\x1b[0m\x1b[37m\x1b[40micos-ready: state=running failed=0";

  test("escape sequences and carriage returns are removed", () => {
    assert.equal(cleanConsoleText(GRUB_READY), "icos-ready: state=running failed=0");
    assert.equal(cleanConsoleText("\x1b[2J\x1b[01;01H\x1b[=3hBdsDxe: loading\r"), "BdsDxe: loading");
  });

  test("the ready line: running with no failed unit is ok, anything else is not", () => {
    assert.deepEqual(parseReadyLine("icos-ready: state=running failed=0"), { state: "running", failed: 0, ok: true });
    assert.deepEqual(parseReadyLine("icos-ready: state=degraded failed=1"), { state: "degraded", failed: 1, ok: false });
    assert.deepEqual(parseReadyLine("icos-ready: state=running failed=2"), { state: "running", failed: 2, ok: false });
    assert.deepEqual(parseReadyLine("[   22.1] foo icos-ready: state=running failed=0"), { state: "running", failed: 0, ok: true });
    assert.equal(parseReadyLine("icos-ready: state="), undefined);
    assert.ok(READY_LINE.test(cleanConsoleText(GRUB_READY)));
  });

  test("kernel panics and boot milestones are recognised", () => {
    assert.ok(PANIC_LINE.test("[    1.234567] Kernel panic - not syncing: VFS: Unable to mount root fs"));
    const seen = (line: string) => MILESTONES.find((m) => m.pattern.test(line))?.name;
    assert.equal(seen('BdsDxe: starting Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x1,0x0)'), "firmware");
    assert.equal(seen("Welcome to GRUB!"), "bootloader");
    assert.equal(seen("[    0.000000] Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org)"), "kernel");
    assert.equal(seen("[    2.345678] systemd[1]: Detected virtualization kvm."), "systemd");
  });
});
