// The QEMU command line for booting an icos disk image: a pure function from options to argv,
// so the exact command is golden-tested (test/unit/vm/qemu-args.test.ts) and shown in errors.
// Recipes behind each choice: /work/shared/reference/host-recipes.md ("GPT and boot",
// "SSH, config media over USB").
import { UserError } from "../errors.ts";

export const QEMU_BINARY = "qemu-system-x86_64";
export const OVMF_PATH = "/usr/share/ovmf/OVMF.fd";

/** The IPv6 /64 of QEMU user networking; its router is <prefix>::2 (test configs use both). */
export const GUEST_IPV6_PREFIX = "fd00:cafe::";

export type Accel = "kvm" | "tcg";

export interface QemuArgsOptions {
  accel: Accel;
  /** UEFI firmware, passed with -bios (OVMF.fd holds code and variables in one read-only file). */
  ovmf: string;
  /** The qcow2 overlay QEMU writes to; the built raw image is only its read-only backing file. */
  overlay: string;
  memoryMiB: number;
  cpus: number;
  /** Host port on 127.0.0.1 forwarded to the guest's port 22. */
  sshPort: number;
  /** Serial console: a unix socket (connect with socat to type) ... */
  serialSocket: string;
  /** ... and the file QEMU copies every console byte to, whether or not anyone is connected. */
  serialLog: string;
  /** A raw image attached read-only as removable USB storage (the config media). */
  configMedia?: string;
  /** Exit instead of rebooting when the guest reboots. */
  noReboot?: boolean;
}

export const MEMORY_MIB = { min: 128, max: 1 << 20 } as const;

const MEMORY_UNITS: Record<string, number> = { "": 1, m: 1, mib: 1, g: 1024, gib: 1024 };

/**
 * Guest memory as --memory takes it: a whole number of MiB, or with a unit M/MiB or G/GiB (binary,
 * as QEMU's -m reads them), e.g. 2048, 2048M, 512MiB, 2G, 2GiB. Decimal units (MB, GB) and
 * fractions are refused rather than guessed.
 */
export function parseMemoryMiB(text: string, flag = "--memory"): number {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? MEMORY_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UserError(
      `${flag}: expected a memory size such as 2048, 2048M, 512MiB, 2G or 2GiB, got ${JSON.stringify(text)}`,
      "a plain number is MiB; M and G are binary units (MiB, GiB); write whole numbers (1536M, not 1.5G)",
    );
  }
  const mib = Number(m[1]) * unit;
  if (!(mib >= MEMORY_MIB.min && mib <= MEMORY_MIB.max)) {
    throw new UserError(`${flag}: ${JSON.stringify(text)} is ${mib} MiB; expected ${MEMORY_MIB.min} MiB to ${MEMORY_MIB.max / 1024} GiB`);
  }
  return mib;
}

/** QEMU splits option values at commas; a literal comma in a value is written twice. */
export function qemuValue(value: string): string {
  return value.replace(/,/g, ",,");
}

/** argv for qemu-system-x86_64 (without the program name). */
export function qemuArgs(o: QemuArgsOptions): string[] {
  const args = [
    // smm=off: Debian's OVMF.fd is built without SMM; q35 turns it on by default.
    "-machine", "q35,smm=off",
    "-accel", o.accel,
    // TCG: "max" enables every feature TCG emulates, including SVM, so a HostOS guest can run
    // nested KVM. KVM: "host" passes the real CPU through.
    "-cpu", o.accel === "kvm" ? "host" : "max",
    "-smp", String(o.cpus),
    "-m", String(o.memoryMiB),
    "-bios", o.ovmf,
    // -nodefaults: no default NIC (OVMF would try PXE on it first), no emulated CD-ROM (OVMF tries
    // to boot it), no VGA; the console is the serial port, which OVMF mirrors its output to.
    "-nodefaults",
    // if=none + an explicit device, not if=virtio: the same shape as every other drive, and it
    // lets us give the disk bootindex=0 so OVMF boots it first.
    "-drive", `if=none,id=disk0,file=${qemuValue(o.overlay)},format=qcow2`,
    "-device", "virtio-blk-pci,drive=disk0,bootindex=0",
    // ipv4=on must be explicit: with only ipv6=on, QEMU 7.2 turns IPv4 off and nothing forwards.
    // A ULA prefix (slirp's default fec0::/64 is site-local, which Linux does not count as
    // global): guests in RouterAdvertisement mode get a global address, Deterministic ones use it.
    "-netdev", `user,id=n0,ipv4=on,ipv6=on,ipv6-prefix=${GUEST_IPV6_PREFIX},ipv6-prefixlen=64,hostfwd=tcp:127.0.0.1:${o.sshPort}-:22`,
    // romfile= (empty): no iPXE option ROM, so OVMF has no network boot entry to try.
    "-device", "virtio-net-pci,netdev=n0,romfile=",
    "-chardev", `socket,id=ser0,path=${qemuValue(o.serialSocket)},server=on,wait=off,logfile=${qemuValue(o.serialLog)},logappend=on`,
    "-serial", "chardev:ser0",
    "-display", "none",
    "-monitor", "none",
  ];
  if (o.configMedia !== undefined) {
    args.push(
      "-device", "qemu-xhci,id=xhci",
      "-drive", `if=none,id=cfg,file=${qemuValue(o.configMedia)},format=raw,readonly=on`,
      "-device", "usb-storage,bus=xhci.0,drive=cfg,removable=on",
    );
  }
  if (o.noReboot) args.push("-no-reboot");
  return args;
}
