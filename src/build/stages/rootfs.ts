// Stage: the image's filesystem, exported from podman and split into the boot and root trees,
// then made into ext4 partition images (boot.img, root.img) that fit any A/B slot. The build
// writes its own files here: the kernel command line per slot, the version, the upgrade trust
// and the device contract (src/model/device-contract.ts).
import { copyFile, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { UserError } from "../../errors.ts";
import { run } from "../../exec.ts";
import { nameGuid } from "../../formats/guid.ts";
import { sha256File } from "../../fs/hash.ts";
import { buildExt4 } from "../../image/ext4.ts";
import type { PublicKey } from "../../image/update-signature.ts";
import { CONTRACT_FILES, renderContractEnv, renderContractJson, UPGRADE_TRUST, type DeviceContract, type DeviceRef } from "../../model/device-contract.ts";
import type { Target } from "../../model/target.ts";
import { exportImage } from "../podman.ts";
import type { Stage } from "../stage.ts";

export interface UpgradeTrust {
  /** Public keys whose signatures the image accepts on update images (each once, in fingerprint order). */
  keys: PublicKey[];
  /** Whether the image also installs update images no trusted key signed. */
  unsigned: boolean;
}

export interface RootfsInput {
  target: Target;
  imageId: string;
  contract: DeviceContract;
  /** Sizes of the boot and root filesystems (the slot partitions or volumes). */
  bootBytes: number;
  rootBytes: number;
  version: string;
  trust: UpgradeTrust;
}

export interface RootfsOutput {
  bootImg: string;
  rootImg: string;
  /** File name -> sha256, recorded when the stage ran. */
  sha256: Record<string, string>;
}

/** How a slot's kernel finds its root: by GPT partition GUID, or by LVM volume path. */
function rootArg(root: DeviceRef): string {
  return root.partGuid ? `root=PARTUUID=${root.partGuid}` : `root=${root.linux}`;
}

/** BOOT_ARGS_A / BOOT_ARGS_B: each slot's kernel finds its own root (the same device the GPT names). */
export function bootArgs(contract: DeviceContract, kernelArgs: string): string {
  const lines = ["# Kernel command line per slot; grub.cfg picks the one of the slot it boots."];
  for (const [slot, devices] of Object.entries(contract.slots)) {
    lines.push(`BOOT_ARGS_${slot}="${`${rootArg(devices.root)} dfinity.system=${slot} ${kernelArgs}`.trim()}"`);
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

/** Where the boot filesystem is mounted, and the mount points below it (e.g. /boot/config). */
function bootMounts(c: DeviceContract): { boot: string; inside: string[] } {
  const boot = c.bootMount ?? "/boot";
  const all = [c.grub, c.config, ...Object.values(c.slots).flatMap((s) => [s.root, s.var])].flatMap((d) => (d?.mountPoint ? [d.mountPoint] : []));
  return { boot, inside: all.filter((m) => m.startsWith(boot + "/")).map((m) => relative(boot, m)).sort() };
}

/** Write `content` at absolute image path `path` under `tree`, making its directories. */
async function put(tree: string, path: string, content: string): Promise<void> {
  await mkdir(dirname(join(tree, path)), { recursive: true });
  await writeFile(join(tree, path), content);
}

function files(i: RootfsInput) {
  return {
    args: bootArgs(i.contract, i.target.os.kernelArgs),
    contractEnv: renderContractEnv(i.contract),
    contractJson: renderContractJson(i.contract),
    keys: i.trust.keys.map((k) => [k.fingerprint, k.pem] as const),
  };
}

export const rootfsStage: Stage<RootfsInput, RootfsOutput> = {
  name: "rootfs",
  version: 6, // 6: the device contract in the root filesystem
  tools: ["podman", "tar", "mke2fs", "debugfs", "e2fsck"],
  key: (i) => ({
    imageId: i.imageId, target: i.target.id, bootBytes: i.bootBytes, rootBytes: i.rootBytes, imageVersion: i.version, unsigned: i.trust.unsigned,
    sde: i.target.os.sourceDateEpoch, fsUuidsFrom: i.target.os.name, ...files(i),
  }),
  subject: (i) => `${i.target.id} boot + root (ext4)`,
  async run(dir, i, { store }) {
    const os = i.target.os;
    const f = files(i);
    const work = store.scratch(`rootfs-${os.name}`);
    try {
      const tar = join(work, "rootfs.tar");
      await exportImage(i.imageId, tar);
      const tree = join(work, "root");
      await mkdir(tree);
      // As root, tar keeps the numeric owners, modes and xattrs recorded in the export.
      await run("tar", ["-xpf", tar, "-C", tree, "--numeric-owner", "--xattrs", "--xattrs-include=*"], { context: `unpack ${i.target.id} rootfs` });
      await rm(tar);
      const mounts = bootMounts(i.contract);
      const boot = join(work, "boot");
      await mkdir(boot);
      const k = await kernelFiles(join(tree, mounts.boot));
      await copyFile(k.vmlinuz, join(boot, "vmlinuz"));
      await copyFile(k.initrd, join(boot, "initrd.img"));
      await writeFile(join(boot, "boot_args"), f.args);
      await put(boot, i.contract.versionFiles.boot, i.version + "\n");
      for (const m of mounts.inside) await mkdir(join(boot, m), { recursive: true }); // e.g. config for /boot/config
      // The root keeps empty mount points; /run and /tmp are tmpfs at run time.
      for (const d of [mounts.boot.slice(1), "run", "tmp"]) {
        await rm(join(tree, d), { recursive: true, force: true });
        await mkdir(join(tree, d), { mode: d === "tmp" ? 0o1777 : 0o755 });
      }
      await put(tree, i.contract.versionFiles.root, i.version + "\n");
      await put(tree, CONTRACT_FILES.env, f.contractEnv);
      await put(tree, CONTRACT_FILES.json, f.contractJson);
      await mkdir(join(tree, UPGRADE_TRUST.keysDir), { recursive: true });
      for (const [fingerprint, pem] of f.keys) await writeFile(join(tree, UPGRADE_TRUST.keysDir, `${fingerprint.slice(0, 16)}.pem`), pem);
      await writeFile(join(tree, UPGRADE_TRUST.target), `${i.target.id}\n`);
      await writeFile(join(tree, UPGRADE_TRUST.policy), `# Written by icos build: may this image install update images no trusted key signed?\nunsigned=${i.trust.unsigned ? "allow" : "refuse"}\n`);
      const common = { sourceDateEpoch: os.sourceDateEpoch };
      await buildExt4({ ...common, tree: boot, out: join(dir, "boot.img"), sizeBytes: i.bootBytes, label: "boot", uuid: nameGuid(os.name, "boot filesystem").toLowerCase() });
      await buildExt4({ ...common, tree, out: join(dir, "root.img"), sizeBytes: i.rootBytes, label: "root", uuid: nameGuid(os.name, "root filesystem").toLowerCase() });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    return { imageId: i.imageId, version: i.version, sha256: { "boot.img": await sha256File(join(dir, "boot.img")), "root.img": await sha256File(join(dir, "root.img")) } };
  },
  output: (dir, meta) => ({ bootImg: join(dir, "boot.img"), rootImg: join(dir, "root.img"), sha256: meta.sha256 as Record<string, string> }),
};
