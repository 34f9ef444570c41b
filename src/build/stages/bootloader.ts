// Stage: the ESP (GRUB EFI binary) and the grub partition (grub.cfg + grubenv). They depend on
// the layout and the host's GRUB, not on the root filesystem, so a rootfs change reuses them.
// The GRUB files are templates: the devices come from the device contract, the A/B state
// machine from boot-cycle.json.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../exec.ts";
import { encodeGrubenv } from "../../formats/grubenv.ts";
import { sha256 } from "../../fs/hash.ts";
import { blockSha256 } from "../../fs/sparse.ts";
import { buildVfat } from "../../image/vfat.ts";
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
}

export interface BootloaderOutput {
  espImg: string;
  grubImg: string;
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
  version: 4, // 4: block digests
  tools: ["grub-mkimage", "mkfs.vfat", "mcopy"],
  key: (i) => ({ os: i.osName, espName: i.espName, esp: i.espBytes, grub: i.grubBytes, ...i.files, grubenv: sha256(GRUBENV), modules: GRUB_MODULES, sde: i.sourceDateEpoch }),
  subject: (i) => `${i.osName} ESP + grub partition`,
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
    return { blockSha256: { "esp.img": await blockSha256(join(dir, "esp.img")), "grub.img": await blockSha256(join(dir, "grub.img")) } };
  },
  output: (dir, meta) => ({ espImg: join(dir, "esp.img"), grubImg: join(dir, "grub.img"), blockSha256: meta.blockSha256 as Record<string, string> }),
};

/** Prepare the bootloader stage's input: the rendered GRUB files are part of its key. */
export async function bootloaderInput(i: BootloaderInput) {
  return { ...i, files: await templates(i.contract) };
}
