// The device contract: what the boot scripts of an image need to know about its disk, in one
// small file the build writes into the image (shell and JSON, the same facts). It is derived from
// the resolved layout and the boot protocol table, so manageboot, the mount generator, grub.cfg
// and the TypeScript side cannot disagree about a partition name or a slot device.
import type { BootCycleTable } from "./boot-cycle.ts";
import { UserError } from "../errors.ts";
import type { Contents, ResolvedLayout, ResolvedPartition, ResolvedVolume } from "./layout.ts";

/** Where the image carries the contract (read by the device scripts through icos-lib.sh). */
export const CONTRACT_FILES = { env: "/opt/ic/share/device-contract.env", json: "/opt/ic/share/device-contract.json" } as const;
/** Where the build stamps the version: on the boot partition and in the root filesystem. */
export const VERSION_FILES = { boot: "/version.txt", root: "/opt/ic/share/version.txt" } as const;
/** What the image trusts for its upgrades: public keys, the unsigned policy, its own target. */
export const UPGRADE_TRUST = { keysDir: "/opt/ic/share/upgrade/keys", policy: "/opt/ic/share/upgrade/policy", target: "/opt/ic/share/upgrade/target" } as const;
/**
 * Kernel arguments of a verity root (IC-OS's own name for the first): the root hash, and the byte
 * offset of the hash tree in the root partition. The verity-root component's initramfs script
 * reads them (a fast test checks it uses these names).
 */
export const VERITY_KERNEL_ARGS = { rootHash: "root_hash", hashOffset: "root_hash_offset" } as const;
/** The device-mapper name of a verity root (the initramfs opens it before any contract is readable). */
export const VERITY_ROOT_DM_NAME = "vroot";
/** The device-mapper name of the opened (decrypted) var partition: setup-var opens it, var.mount mounts it. */
export const VAR_DM_NAME = "var";
/** The members of an update image (update-img.tar.zst), each exactly once. */
export const UPDATE_IMAGE_MEMBERS = ["VERSION.TXT", "boot.img", "root.img"] as const;

/** One block device of the image, as Linux and as GRUB name it. */
export interface DeviceRef {
  /** The partition or volume name in the layout. */
  name: string;
  /** Its path on the running system: /dev/disk/by-partlabel/<name> or /dev/<vg>/<lv>. */
  linux: string;
  /** Its GRUB device, without parentheses: "$bootdisk,gptN" or "lvm/<vg>-<lv>". */
  grub: string;
  mountPoint?: string;
  /** The filesystem label the layout gives a partition (what a first boot formats it with). */
  label?: string;
  /** A GPT partition's index and unique GUID (root=PARTUUID=); absent for an LVM volume. */
  index?: number;
  partGuid?: string;
}

export interface SlotDevices {
  boot: DeviceRef;
  root: DeviceRef;
  var?: DeviceRef;
}

export interface DeviceContract {
  os: string;
  grub?: DeviceRef;
  config?: DeviceRef;
  /** The A/B sets (A/B kinds); an installer has one boot + root and no slots. */
  slots: Partial<Record<"A" | "B", SlotDevices>>;
  /** Where the running system mounts its boot device (the same for both slots). */
  bootMount?: string;
  /** Non-slotted boot and root (an installer image). */
  boot?: DeviceRef;
  root?: DeviceRef;
  /** boot_cycle values after which GRUB boots the other slot (boot-cycle.json). */
  switchCycles: string[];
  versionFiles: typeof VERSION_FILES;
  updateImageMembers: readonly string[];
  upgradeTrust: typeof UPGRADE_TRUST;
}

type Placed = { part: ResolvedPartition; volume?: ResolvedVolume; vg?: string };

/** Every partition, and every LVM volume with the partition that holds it. */
function placed(layout: ResolvedLayout): Placed[] {
  return layout.partitions.flatMap((part): Placed[] => (part.lvm ? part.lvm.volumes.map((volume) => ({ part, volume, vg: part.lvm!.vg })) : [{ part }]));
}

/** LVM's device-mapper name doubles every '-' in the VG and LV names (lib/misc/lvm-string.c). */
const dmName = (vg: string, lv: string) => `${vg.replaceAll("-", "--")}-${lv.replaceAll("-", "--")}`;

function ref(p: Placed): DeviceRef {
  const name = p.volume?.name ?? p.part.name;
  const r: DeviceRef = p.volume
    ? { name, linux: `/dev/${p.vg}/${name}`, grub: `lvm/${dmName(p.vg!, name)}` }
    : { name, linux: `/dev/disk/by-partlabel/${name}`, grub: `$bootdisk,gpt${p.part.index}`, index: p.part.index, partGuid: p.part.partGuid.toLowerCase() };
  const mount = p.volume ? p.volume.mountPoint : p.part.mountPoint;
  if (mount !== undefined) r.mountPoint = mount;
  if (!p.volume && p.part.label !== undefined) r.label = p.part.label;
  return r;
}

export function deviceContract(layout: ResolvedLayout, bootCycle: BootCycleTable): DeviceContract {
  const all = placed(layout);
  const contentsOf = (p: Placed) => p.volume?.contents ?? p.part.contents;
  const slotOf = (p: Placed) => (p.volume ? p.volume.slot : p.part.slot);
  const one = (contents: Contents, slot?: "A" | "B"): DeviceRef | undefined => {
    const found = all.filter((p) => contentsOf(p) === contents && slotOf(p) === slot);
    if (found.length > 1) throw new UserError(`layout ${layout.name}: ${found.length} ${contents} devices${slot ? ` in slot ${slot}` : ""}; the device contract needs at most one`);
    return found[0] && ref(found[0]);
  };
  const slots: DeviceContract["slots"] = {};
  for (const s of ["A", "B"] as const) {
    const boot = one("boot", s);
    const root = one("root", s);
    if (!boot && !root) continue;
    if (!boot || !root) throw new UserError(`layout ${layout.name}: slot ${s} has a ${boot ? "boot" : "root"} but no ${boot ? "root" : "boot"} device`);
    const v = one("var", s);
    slots[s] = v ? { boot, root, var: v } : { boot, root };
  }
  const c: DeviceContract = {
    os: layout.name,
    slots,
    switchCycles: bootCycle.transitions.filter((t) => t.slot === "other").map((t) => t.boot_cycle),
    versionFiles: VERSION_FILES,
    updateImageMembers: UPDATE_IMAGE_MEMBERS,
    upgradeTrust: UPGRADE_TRUST,
  };
  const bootMounts = new Set([...Object.values(slots).map((d) => d.boot.mountPoint), one("boot")?.mountPoint].filter((m) => m !== undefined));
  if (bootMounts.size > 1) throw new UserError(`layout ${layout.name}: the boot devices have different mount points (${[...bootMounts].join(", ")})`);
  if (bootMounts.size === 1) c.bootMount = [...bootMounts][0]!;
  const grub = one("grub");
  const config = one("config");
  const boot = one("boot");
  const root = one("root");
  if (grub) c.grub = grub;
  if (config) c.config = config;
  if (boot) c.boot = boot;
  if (root) c.root = root;
  return c;
}

/** The shell form: KEY='value' lines, sourced by the device scripts (icos-lib.sh icos_contract). */
export function renderContractEnv(c: DeviceContract): string {
  const vars: [string, string][] = [["ICOS_OS", c.os]];
  if (c.bootMount) vars.push(["ICOS_BOOT_MOUNT", c.bootMount]);
  // Boot devices share ICOS_BOOT_MOUNT; root and var are mounted by the initramfs and their units.
  const dev = (prefix: string, d: DeviceRef | undefined, withMount = false) => {
    if (!d) return;
    vars.push([`${prefix}_DEV`, d.linux]);
    if (withMount && d.mountPoint) vars.push([`${prefix}_MOUNT`, d.mountPoint]);
    if (withMount && d.label) vars.push([`${prefix}_LABEL`, d.label]);
  };
  dev("ICOS_GRUB", c.grub, true);
  dev("ICOS_CONFIG", c.config, true);
  dev("ICOS_BOOT", c.boot);
  dev("ICOS_ROOT", c.root);
  for (const [s, d] of Object.entries(c.slots)) {
    dev(`ICOS_${s}_BOOT`, d.boot);
    dev(`ICOS_${s}_ROOT`, d.root);
    dev(`ICOS_${s}_VAR`, d.var);
  }
  // Each slot's var goes on the same mount point (the running slot's; setup-var opens it).
  const varMount = Object.values(c.slots).find((d) => d.var?.mountPoint)?.var?.mountPoint;
  if (varMount) vars.push(["ICOS_VAR_MOUNT", varMount], ["ICOS_VAR_DM", VAR_DM_NAME], ["ICOS_VAR_DM_DEV", `/dev/mapper/${VAR_DM_NAME}`]);
  vars.push(
    ["ICOS_SLOTS", Object.keys(c.slots).join(" ")],
    ["ICOS_SWITCH_CYCLES", c.switchCycles.join(" ")],
    ["ICOS_VERSION_FILE_BOOT", c.versionFiles.boot],
    ["ICOS_VERSION_FILE_ROOT", c.versionFiles.root],
    ["ICOS_UPDATE_MEMBERS", c.updateImageMembers.join(" ")],
    ["ICOS_UPGRADE_KEYS", c.upgradeTrust.keysDir],
    ["ICOS_UPGRADE_POLICY", c.upgradeTrust.policy],
    ["ICOS_UPGRADE_TARGET", c.upgradeTrust.target],
  );
  for (const [, v] of vars) if (/['\n\\]/.test(v)) throw new UserError(`device contract: value ${JSON.stringify(v)} cannot be written in shell quotes`);
  const head = `# Device contract of ${c.os}: written by icos build from the resolved layout and boot-cycle.json\n# (docs/architecture.md). Sourced by the boot scripts; the same facts are in device-contract.json.\n`;
  return head + vars.map(([k, v]) => `${k}='${v}'\n`).join("");
}

export function renderContractJson(c: DeviceContract): string {
  return JSON.stringify(c, null, 2) + "\n";
}
