// Stage 5a: the ESP (GRUB EFI binary) and the grub partition (grub.cfg + grubenv). They depend on
// the layout and the host's GRUB, not on the root filesystem, so a rootfs change reuses them.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../exec.ts";
import { encodeGrubenv } from "../../formats/grubenv.ts";
import { toolVersions } from "../../host/doctor.ts";
import { buildVfat } from "../../image/vfat.ts";
import type { ResolvedLayout } from "../../model/layout.ts";
import type { OsDefinition } from "../../model/os.ts";
import { loadBootCycleTable, renderGrubStateMachine } from "../../model/boot-cycle.ts";
import { IC_OS_DIR } from "../../paths.ts";
import { digestOf } from "../digest.ts";
import { sha256, sha256File } from "../../fs/hash.ts";
import type { Progress } from "../progress.ts";
import type { Store } from "../store.ts";
import { partitionOf, slotPartition } from "./slots.ts";

const VERSION = 2; // 2: meta.json records sha256 of the outputs
/** GRUB modules in the EFI binary: GPT, both filesystems, grubenv, and what grub.cfg uses. */
export const GRUB_MODULES = [
  "part_gpt", "fat", "ext2", "normal", "linux", "configfile", "loadenv", "regexp", "test", "echo", "boot",
  "cat", "ls", "sleep", "search", "search_fs_uuid", "efi_gop", "efi_uga", "all_video", "halt", "reboot", "lvm",
];

export interface BootloaderResult {
  espImg: string;
  grubImg: string;
  digest: string;
  sha256: Record<string, string>;
}

/** Volume IDs of vfat partitions: fixed, derived from the image and partition names. */
export function volumeId(os: string, partition: string): string {
  return sha256(`${os}/${partition}`).slice(0, 8).toUpperCase();
}

export async function renderGrubCfg(layout: ResolvedLayout): Promise<string> {
  const template = await readFile(join(IC_OS_DIR, "bootloader", "grub.cfg"), "utf8");
  return template
    .replaceAll("@BOOT_A@", `gpt${slotPartition(layout, "boot", "A").index}`)
    .replaceAll("@BOOT_B@", `gpt${slotPartition(layout, "boot", "B").index}`)
    .replace("@BOOT_CYCLE@", renderGrubStateMachine(loadBootCycleTable(), `($bootdisk,gpt${partitionOf(layout, "grub").index})/grubenv`));
}

export async function buildBootloader(store: Store, os: OsDefinition, layout: ResolvedLayout, progress: Progress): Promise<BootloaderResult> {
  const esp = partitionOf(layout, "esp");
  const grub = partitionOf(layout, "grub");
  const grubCfg = await renderGrubCfg(layout);
  const earlyCfg = await readFile(join(IC_OS_DIR, "bootloader", "early.cfg"), "utf8");
  const grubenv = encodeGrubenv({ boot_alternative: "A", boot_cycle: "stable" });
  const digest = digestOf({
    stage: "bootloader", version: VERSION, os: os.name, esp: esp.sizeBytes, grub: grub.sizeBytes, grubCfg, earlyCfg, grubenv: sha256(grubenv),
    modules: GRUB_MODULES, sde: os.sourceDateEpoch, tools: await toolVersions(["grub-mkimage", "mkfs.vfat", "mcopy"]),
  });
  return progress.stage("bootloader", `${os.name} ESP + grub partition`, digest, async () => {
    const hit = store.get("bootloader", digest);
    const result = (dir: string, meta: Record<string, unknown>) => ({ espImg: join(dir, "esp.img"), grubImg: join(dir, "grub.img"), digest, sha256: meta.sha256 as Record<string, string> });
    if (hit) return { value: result(hit.path, hit.meta), cache: "hit" };
    const entry = await store.put("bootloader", digest, async (dir) => {
      const files = join(dir, "files");
      await mkdir(join(files, "esp"), { recursive: true });
      await mkdir(join(files, "grub"), { recursive: true });
      await writeFile(join(files, "early.cfg"), earlyCfg);
      const efi = join(files, "esp", "BOOTX64.EFI");
      await run("grub-mkimage", ["-O", "x86_64-efi", "-o", efi, "-c", join(files, "early.cfg"), "-p", "/EFI/BOOT", ...GRUB_MODULES], { context: "grub-mkimage (ESP)" });
      await writeFile(join(files, "grub", "grub.cfg"), grubCfg);
      await writeFile(join(files, "grub", "grubenv"), grubenv);
      const common = { sourceDateEpoch: os.sourceDateEpoch };
      await buildVfat({ ...common, out: join(dir, "esp.img"), sizeBytes: esp.sizeBytes, label: "ESP", volumeId: volumeId(os.name, esp.name), files: [{ src: efi, dest: "EFI/BOOT/BOOTX64.EFI" }] });
      await buildVfat({ ...common, out: join(dir, "grub.img"), sizeBytes: grub.sizeBytes, label: "GRUB", volumeId: volumeId(os.name, grub.name), files: join(files, "grub") });
      return { sha256: { "esp.img": await sha256File(join(dir, "esp.img")), "grub.img": await sha256File(join(dir, "grub.img")) } };
    });
    return { value: result(entry.path, entry.meta), cache: "miss" };
  });
}
