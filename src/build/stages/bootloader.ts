// Stage: the ESP (GRUB EFI binary), the grub partition (grub.cfg + grubenv) and, when the layout
// gives it a filesystem, the empty config partition. They depend on the layout and the host's
// tools, not on the root filesystem, so a rootfs change reuses them.
// The GRUB files are templates: the devices come from the device contract, the A/B state
// machine from boot-cycle.json.
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../exec.ts";
import { encodeGrubenv } from "../../formats/grubenv.ts";
import { sha256 } from "../../fs/hash.ts";
import { blockSha256 } from "../../fs/sparse.ts";
import { buildExt4 } from "../../image/ext4.ts";
import { buildVfat } from "../../image/vfat.ts";
import { nameGuid } from "../../formats/guid.ts";
import { loadBootCycleTable, renderGrubStateMachine } from "../../model/boot-cycle.ts";
import { UserError } from "../../errors.ts";
import type { DeviceContract, DeviceRef } from "../../model/device-contract.ts";
import { IC_OS_DIR } from "../../paths.ts";
import type { Stage } from "../stage.ts";

/** GRUB modules in the EFI binary: GPT, both filesystems, grubenv, and what grub.cfg uses. */
export const GRUB_MODULES = [
  "part_gpt", "fat", "ext2", "normal", "linux", "configfile", "loadenv", "regexp", "test", "echo", "boot",
  "cat", "ls", "sleep", "search", "search_fs_uuid", "efi_gop", "efi_uga", "all_video", "halt", "reboot", "lvm",
];

export interface BootloaderInput {
  /** Names the vfat volume IDs (fixed, from the OS and partition names). */
  osName: string;
  sourceDateEpoch: number;
  contract: DeviceContract;
  espName: string;
  espBytes: number;
  grubBytes: number;
  /** The config partition, made here as an empty ext4 (root 0700) so no boot formats it. */
  config?: { name: string; bytes: number; label: string };
}

export interface BootloaderOutput {
  espImg: string;
  grubImg: string;
  /** Made when the input names a config partition. */
  configImg?: string;
  /** File name -> block digest (src/fs/sparse.ts). */
  blockSha256: Record<string, string>;
}

/** Volume IDs of vfat partitions: fixed, derived from the image and partition names. */
export function volumeId(os: string, partition: string): string {
  return sha256(`${os}/${partition}`).slice(0, 8).toUpperCase();
}

function need<T>(value: T | undefined, what: string, c: DeviceContract): T {
  if (value === undefined) throw new UserError(`layout ${c.os}: the bootloader needs ${what}`);
  return value;
}

/** Fill a GRUB template's @-placeholders from the contract: @GRUB@, @BOOT_A@, @BOOT_B@, @BOOT_CYCLE@. */
export function renderGrubTemplate(template: string, c: DeviceContract): string {
  const grub = need(c.grub, "a grub partition", c);
  const dev = (d: DeviceRef) => `(${d.grub})`;
  const out = template
    .replaceAll("@GRUB@", dev(grub))
    .replaceAll("@BOOT_A@", () => dev(need(c.slots.A, "an A slot", c).boot))
    .replaceAll("@BOOT_B@", () => dev(need(c.slots.B, "a B slot", c).boot))
    .replace("@BOOT_CYCLE@", () => renderGrubStateMachine(loadBootCycleTable(), `${dev(grub)}/grubenv`));
  const left = /@[A-Z_]+@/.exec(out);
  if (left) throw new UserError(`GRUB template: unknown placeholder ${left[0]}`);
  return out;
}

async function templates(c: DeviceContract): Promise<{ grubCfg: string; earlyCfg: string }> {
  const read = (f: string) => readFile(join(IC_OS_DIR, "bootloader", f), "utf8");
  return { grubCfg: renderGrubTemplate(await read("grub.cfg"), c), earlyCfg: renderGrubTemplate(await read("early.cfg"), c) };
}

const GRUBENV = encodeGrubenv({ boot_alternative: "A", boot_cycle: "stable" });

export const bootloaderStage: Stage<BootloaderInput & { files: { grubCfg: string; earlyCfg: string } }, BootloaderOutput> = {
  name: "bootloader",
  version: 6, // 6: inode times by our own codec; 5: the config partition
  tools: ["grub-mkimage", "mkfs.vfat", "mcopy", "mke2fs"],
  key: (i) => ({ os: i.osName, espName: i.espName, esp: i.espBytes, grub: i.grubBytes, config: i.config ?? null, ...i.files, grubenv: sha256(GRUBENV), modules: GRUB_MODULES, sde: i.sourceDateEpoch }),
  subject: (i) => `${i.osName} ESP + grub${i.config ? " + config" : ""} partitions`,
  async run(dir, i) {
    const files = join(dir, "files");
    await mkdir(join(files, "esp"), { recursive: true });
    await mkdir(join(files, "grub"), { recursive: true });
    await writeFile(join(files, "early.cfg"), i.files.earlyCfg);
    const efi = join(files, "esp", "BOOTX64.EFI");
    await run("grub-mkimage", ["-O", "x86_64-efi", "-o", efi, "-c", join(files, "early.cfg"), "-p", "/EFI/BOOT", ...GRUB_MODULES], { context: "grub-mkimage (ESP)" });
    await writeFile(join(files, "grub", "grub.cfg"), i.files.grubCfg);
    await writeFile(join(files, "grub", "grubenv"), GRUBENV);
    const common = { sourceDateEpoch: i.sourceDateEpoch };
    await buildVfat({ ...common, out: join(dir, "esp.img"), sizeBytes: i.espBytes, label: "ESP", volumeId: volumeId(i.osName, i.espName), files: [{ src: efi, dest: "EFI/BOOT/BOOTX64.EFI" }] });
    await buildVfat({ ...common, out: join(dir, "grub.img"), sizeBytes: i.grubBytes, label: "GRUB", volumeId: volumeId(i.osName, need(i.contract.grub, "a grub partition", i.contract).name), files: join(files, "grub") });
    const made = ["esp.img", "grub.img"];
    if (i.config) {
      // Empty, for root only: the node's identity goes there (the boot-mounts component).
      const tree = join(files, "config");
      await mkdir(tree);
      await chmod(tree, 0o700);
      const uuid = nameGuid(i.osName, `${i.config.name} filesystem`).toLowerCase();
      await buildExt4({ ...common, tree, rootMode: 0o700, out: join(dir, "config.img"), sizeBytes: i.config.bytes, label: i.config.label, uuid });
      made.push("config.img");
    }
    return { blockSha256: Object.fromEntries(await Promise.all(made.map(async (f) => [f, await blockSha256(join(dir, f))] as const))) };
  },
  output: (dir, meta, i) => ({
    espImg: join(dir, "esp.img"),
    grubImg: join(dir, "grub.img"),
    ...(i.config ? { configImg: join(dir, "config.img") } : {}),
    blockSha256: meta.blockSha256 as Record<string, string>,
  }),
};

/** Prepare the bootloader stage's input: the rendered GRUB files are part of its key. */
export async function bootloaderInput(i: BootloaderInput) {
  return { ...i, files: await templates(i.contract) };
}
