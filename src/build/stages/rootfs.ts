// Stage 4: the image's filesystem, exported from podman and split into the boot and root trees,
// then made into ext4 partition images (boot.img, root.img) that fit any A/B slot.
import { mkdir, readdir, rm, writeFile, copyFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { UserError } from "../../errors.ts";
import { run } from "../../exec.ts";
import { nameGuid } from "../../formats/guid.ts";
import { toolVersions } from "../../host/doctor.ts";
import { buildExt4 } from "../../image/ext4.ts";
import type { ResolvedLayout } from "../../model/layout.ts";
import type { Target } from "../../model/target.ts";
import { digestOf } from "../digest.ts";
import { sha256File } from "../../fs/hash.ts";
import { exportImage } from "../podman.ts";
import type { Progress } from "../progress.ts";
import type { Store } from "../store.ts";
import { slotPartition } from "./slots.ts";
import type { PublicKey } from "../../image/update-signature.ts";

const VERSION = 5; // 5: upgrade trust (keys, policy, target)

/** Where the build stamps the version: on the boot partition and in the root filesystem. */
export const VERSION_FILES = { boot: "/version.txt", root: "/opt/ic/share/version.txt" } as const;
/** What the image trusts for its upgrades (read by manageboot.sh): public keys and the unsigned policy. */
export const UPGRADE_TRUST = { keysDir: "/opt/ic/share/upgrade/keys", policy: "/opt/ic/share/upgrade/policy", target: "/opt/ic/share/upgrade/target" } as const;

export interface UpgradeTrust {
  /** Public keys whose signatures the image accepts on update images (each once, in fingerprint order). */
  keys: PublicKey[];
  /** Whether the image also installs update images no trusted key signed. */
  unsigned: boolean;
}

export interface RootfsResult {
  bootImg: string;
  rootImg: string;
  digest: string;
  /** File name -> sha256, recorded when the stage ran. */
  sha256: Record<string, string>;
}

/** BOOT_ARGS_A / BOOT_ARGS_B: each slot's kernel finds its own root by partition GUID. */
export function bootArgs(target: Target, layout: ResolvedLayout): string {
  const lines = ["# Kernel command line per slot; grub.cfg picks the one of the slot it boots."];
  for (const slot of ["A", "B"] as const) {
    const root = slotPartition(layout, "root", slot);
    const args = `root=PARTUUID=${nameGuid(target.os.name, root.name).toLowerCase()} dfinity.system=${slot} ${target.os.kernelArgs}`.trim();
    lines.push(`BOOT_ARGS_${slot}="${args}"`);
  }
  return lines.join("\n") + "\n";
}

/** The single kernel (and its initrd) in /boot; IC-OS images carry exactly one. */
async function kernelFiles(bootDir: string): Promise<{ vmlinuz: string; initrd: string }> {
  const names = await readdir(bootDir);
  const kernels = names.filter((n) => n.startsWith("vmlinuz-"));
  if (kernels.length !== 1) throw new UserError(`the image's /boot has ${kernels.length} kernels (${kernels.join(", ") || "none"}); expected exactly one`, "install one linux-image package in Dockerfile.base");
  const release = kernels[0]!.slice("vmlinuz-".length);
  if (!names.includes(`initrd.img-${release}`)) throw new UserError(`the image's /boot has no initrd.img-${release}`, "run update-initramfs in the Dockerfile");
  return { vmlinuz: join(bootDir, kernels[0]!), initrd: join(bootDir, `initrd.img-${release}`) };
}

export async function buildRootfs(
  store: Store,
  target: Target,
  layout: ResolvedLayout,
  imageId: string,
  o: { version: string; trust: UpgradeTrust },
  progress: Progress,
): Promise<RootfsResult> {
  const version = o.version;
  const trust = { keys: o.trust.keys.map((k) => [k.fingerprint, k.pem] as const), unsigned: o.trust.unsigned };
  const os = target.os;
  const bootPart = slotPartition(layout, "boot", "A");
  const rootPart = slotPartition(layout, "root", "A");
  const args = bootArgs(target, layout);
  const digest = digestOf({
    stage: "rootfs", version: VERSION, imageId, bootBytes: bootPart.sizeBytes, rootBytes: rootPart.sizeBytes, args, imageVersion: version, trust,
    sde: os.sourceDateEpoch, tools: await toolVersions(["podman", "tar", "mke2fs", "debugfs", "e2fsck"]),
  });
  return progress.stage("rootfs", `${target.id} boot + root (ext4)`, digest, async () => {
    const hit = store.get("rootfs", digest);
    const result = (dir: string, meta: Record<string, unknown>) => ({ bootImg: join(dir, "boot.img"), rootImg: join(dir, "root.img"), digest, sha256: meta.sha256 as Record<string, string> });
    if (hit) return { value: result(hit.path, hit.meta), cache: "hit" };
    const entry = await store.put("rootfs", digest, async (dir) => {
      const work = store.scratch(`rootfs-${os.name}`);
      try {
        const tar = join(work, "rootfs.tar");
        await exportImage(imageId, tar);
        const tree = join(work, "root");
        await mkdir(tree);
        // As root, tar keeps the numeric owners, modes and xattrs recorded in the export.
        await run("tar", ["-xpf", tar, "-C", tree, "--numeric-owner", "--xattrs", "--xattrs-include=*"], { context: `unpack ${target.id} rootfs` });
        await rm(tar);
        const boot = join(work, "boot");
        await mkdir(boot);
        const k = await kernelFiles(join(tree, "boot"));
        await copyFile(k.vmlinuz, join(boot, "vmlinuz"));
        await copyFile(k.initrd, join(boot, "initrd.img"));
        await writeFile(join(boot, "boot_args"), args);
        await writeFile(join(boot, VERSION_FILES.boot), version + "\n");
        await mkdir(join(boot, "config")); // mount point of the config partition (/boot/config)
        // The root keeps empty mount points; /run and /tmp are tmpfs at run time.
        for (const d of ["boot", "run", "tmp"]) {
          await rm(join(tree, d), { recursive: true, force: true });
          await mkdir(join(tree, d), { mode: d === "tmp" ? 0o1777 : 0o755 });
        }
        await mkdir(dirname(join(tree, VERSION_FILES.root)), { recursive: true });
        await writeFile(join(tree, VERSION_FILES.root), version + "\n");
        await mkdir(join(tree, UPGRADE_TRUST.keysDir), { recursive: true });
        for (const [fingerprint, pem] of trust.keys) await writeFile(join(tree, UPGRADE_TRUST.keysDir, `${fingerprint.slice(0, 16)}.pem`), pem);
        await writeFile(join(tree, UPGRADE_TRUST.target), `${target.id}\n`);
        await writeFile(join(tree, UPGRADE_TRUST.policy), `# Written by icos build: may this image install update images no trusted key signed?\nunsigned=${trust.unsigned ? "allow" : "refuse"}\n`);
        const common = { sourceDateEpoch: os.sourceDateEpoch };
        await buildExt4({ ...common, tree: boot, out: join(dir, "boot.img"), sizeBytes: bootPart.sizeBytes, label: "boot", uuid: nameGuid(os.name, "boot filesystem").toLowerCase() });
        await buildExt4({ ...common, tree, out: join(dir, "root.img"), sizeBytes: rootPart.sizeBytes, label: "root", uuid: nameGuid(os.name, "root filesystem").toLowerCase() });
      } finally {
        await rm(work, { recursive: true, force: true });
      }
      return { imageId, version, sha256: { "boot.img": await sha256File(join(dir, "boot.img")), "root.img": await sha256File(join(dir, "root.img")) } };
    });
    return { value: result(entry.path, entry.meta), cache: "miss" };
  });
}
