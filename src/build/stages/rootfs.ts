// Stage: the image's filesystem, exported from podman and split into the boot and root trees,
// then made into ext4 partition images (boot.img, root.img) that fit any A/B slot. The build
// writes its own files here: the kernel command line per slot, the version, the upgrade trust
// and the device contract (src/model/device-contract.ts).
import { chmod, copyFile, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { UserError } from "../../errors.ts";
import { nameGuid } from "../../formats/guid.ts";
import { blockSha256 } from "../../fs/sparse.ts";
import { buildExt4 } from "../../image/ext4.ts";
import { sealVerity, VERITY_BLOCK_BYTES, verityArgs, verityIdentity, type VeritySeal } from "../../image/verity.ts";
import { verityDataBlocksFor } from "../../formats/verity.ts";
import type { PublicKey } from "../../image/update-signature.ts";
import { CONTRACT_FILES, renderContractEnv, renderContractJson, UPGRADE_TRUST, type DeviceContract, type DeviceRef } from "../../model/device-contract.ts";
import type { Target } from "../../model/target.ts";
import { layInComponents } from "../components.ts";
import { withImageTree } from "../podman.ts";
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
  /** Digest of what the components lay into the tree (components.ts componentsDigest). */
  componentsDigest: string;
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
  /** File name -> block digest (src/fs/sparse.ts), recorded when the stage ran. */
  blockSha256: Record<string, string>;
}

/** The root filesystem's block size, also the verity data and hash block size. */
const ROOT_BLOCK = VERITY_BLOCK_BYTES;

/** How a slot's kernel finds its root: by GPT partition GUID, or by LVM volume path. */
function rootArg(root: DeviceRef): string {
  return root.partGuid ? `root=PARTUUID=${root.partGuid}` : `root=${root.linux}`;
}

/** BOOT_ARGS_A / BOOT_ARGS_B: each slot's kernel finds its own root (the same device the GPT names). */
export function bootArgs(contract: DeviceContract, kernelArgs: string, seal?: VeritySeal): string {
  const lines = ["# Kernel command line per slot; grub.cfg picks the one of the slot it boots."];
  for (const [slot, devices] of Object.entries(contract.slots)) {
    const args = [rootArg(devices.root), `dfinity.system=${slot}`, seal ? verityArgs(seal) : "", kernelArgs].filter(Boolean).join(" ");
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

/** Where the boot filesystem is mounted, and the mount points below it (e.g. /boot/config). */
function bootMounts(c: DeviceContract): { boot: string; inside: string[] } {
  const boot = c.bootMount ?? "/boot";
  const all = [c.grub, c.config, ...Object.values(c.slots).flatMap((s) => [s.root, s.var])].flatMap((d) => (d?.mountPoint ? [d.mountPoint] : []));
  return { boot, inside: all.filter((m) => m.startsWith(boot + "/")).map((m) => relative(boot, m)).sort() };
}

/**
 * Write `content` at absolute image path `path` under `tree` with an explicit mode (0644), making
 * missing directories 0755: nothing icos writes takes its mode from the caller's umask.
 */
async function put(tree: string, path: string, content: string): Promise<void> {
  await mkdirs(dirname(join(tree, path)));
  await writeFile(join(tree, path), content);
  await chmod(join(tree, path), 0o644);
}

/** mkdir -p with the directories it makes 0755 (existing ones keep their mode). */
async function mkdirs(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first !== undefined) for (let d = dir; d.length >= first.length; d = dirname(d)) await chmod(d, 0o755);
}

/** Copy a file in with mode 0644. */
async function install(src: string, dest: string): Promise<void> {
  await copyFile(src, dest);
  await chmod(dest, 0o644);
}

function files(i: RootfsInput) {
  return {
    kernelArgs: i.target.os.kernelArgs,
    contractEnv: renderContractEnv(i.contract),
    contractJson: renderContractJson(i.contract),
    keys: i.trust.keys.map((k) => [k.fingerprint, k.pem] as const),
  };
}

export const rootfsStage: Stage<RootfsInput, RootfsOutput> = {
  name: "rootfs",
  version: 10, // 10: dm-verity roots
  tools: ["podman", "mount", "systemctl", "mke2fs", "debugfs", "e2fsck"],
  key: (i) => ({
    imageId: i.imageId, components: i.componentsDigest, target: i.target.id, bootBytes: i.bootBytes, rootBytes: i.rootBytes, imageVersion: i.version, unsigned: i.trust.unsigned,
    sde: i.target.os.sourceDateEpoch, fsUuidsFrom: i.target.os.name, rootVerity: i.target.os.rootVerity, ...files(i),
  }),
  subject: (i) => `${i.target.id} boot + root (ext4)`,
  async run(dir, i, { store }) {
    const os = i.target.os;
    const f = files(i);
    const work = store.scratch(`rootfs-${os.name}`);
    try {
      // The image's tree is never copied: an overlay over podman's mount takes our changes.
      await withImageTree(i.imageId, join(work, "image"), async (tree) => {
        await layInComponents(tree, os);
        const mounts = bootMounts(i.contract);
        const boot = join(work, "boot");
        await mkdirs(boot);
        const k = await kernelFiles(join(tree, mounts.boot));
        await install(k.vmlinuz, join(boot, "vmlinuz"));
        await install(k.initrd, join(boot, "initrd.img"));
        await put(boot, i.contract.versionFiles.boot, i.version + "\n");
        for (const m of mounts.inside) await mkdirs(join(boot, m)); // e.g. config for /boot/config
        // The root keeps empty mount points; /run and /tmp are tmpfs at run time.
        for (const d of [mounts.boot.slice(1), "run", "tmp"]) {
          await rm(join(tree, d), { recursive: true, force: true });
          await mkdir(join(tree, d));
          await chmod(join(tree, d), d === "tmp" ? 0o1777 : 0o755);
        }
        await put(tree, i.contract.versionFiles.root, i.version + "\n");
        await put(tree, CONTRACT_FILES.env, f.contractEnv);
        await put(tree, CONTRACT_FILES.json, f.contractJson);
        for (const [fingerprint, pem] of f.keys) await put(tree, join(UPGRADE_TRUST.keysDir, `${fingerprint.slice(0, 16)}.pem`), pem);
        await mkdirs(join(tree, UPGRADE_TRUST.keysDir));
        await put(tree, UPGRADE_TRUST.target, `${i.target.id}\n`);
        await put(tree, UPGRADE_TRUST.policy, `# Written by icos build: may this image install update images no trusted key signed?\nunsigned=${i.trust.unsigned ? "allow" : "refuse"}\n`);
        const common = { sourceDateEpoch: os.sourceDateEpoch };
        // The root first: a verity root's hash goes into the boot partition's kernel arguments.
        const rootImg = join(dir, "root.img");
        const dataBlocks = os.rootVerity ? verityDataBlocksFor(ROOT_BLOCK, i.rootBytes / ROOT_BLOCK) : i.rootBytes / ROOT_BLOCK;
        // A verity root is never written: no journal (64 MiB of every image at the real size).
        const features = os.rootVerity ? ["^has_journal"] : undefined;
        await buildExt4({ ...common, tree, out: rootImg, sizeBytes: dataBlocks * ROOT_BLOCK, blockSize: ROOT_BLOCK, features, label: "root", uuid: nameGuid(os.name, "root filesystem").toLowerCase() });
        const seal = os.rootVerity ? await sealVerity(rootImg, i.rootBytes, { blockSize: ROOT_BLOCK, dataBlocks, ...verityIdentity(os.name) }) : undefined;
        await put(boot, "/boot_args", bootArgs(i.contract, f.kernelArgs, seal));
        await buildExt4({ ...common, tree: boot, out: join(dir, "boot.img"), sizeBytes: i.bootBytes, label: "boot", uuid: nameGuid(os.name, "boot filesystem").toLowerCase() });
      });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    return { imageId: i.imageId, version: i.version, blockSha256: { "boot.img": await blockSha256(join(dir, "boot.img")), "root.img": await blockSha256(join(dir, "root.img")) } };
  },
  output: (dir, meta) => ({ bootImg: join(dir, "boot.img"), rootImg: join(dir, "root.img"), blockSha256: meta.blockSha256 as Record<string, string> }),
};
