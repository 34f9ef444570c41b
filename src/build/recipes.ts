// Recipes: which stages build each kind of image (os.yaml `kind`), the way LinuxKit maps an
// output format to one function. Adding an OS of an existing kind is data only: its os.yaml,
// layout, Dockerfiles and components.
import { UserError } from "../errors.ts";
import { loadBootCycleTable } from "../model/boot-cycle.ts";
import { deviceContract } from "../model/device-contract.ts";
import { partitionOf, slotPartition } from "../model/layout-find.ts";
import type { ResolvedLayout } from "../model/layout.ts";
import type { OsKind } from "../model/os.ts";
import type { Target } from "../model/target.ts";
import type { PublicKey, SigningKey } from "../image/update-signature.ts";
import { digestTree } from "./digest.ts";
import { componentsDigest as componentsDigestOf } from "./components.ts";
import { assembleContext } from "./context.ts";
import { pinnedBase } from "./bases.ts";
import { runStage, type StageContext } from "./stage.ts";
import { artifactsStage, DISK_ARCHIVE, UPDATE_ARCHIVES } from "./stages/artifacts.ts";
import { bootloaderInput, bootloaderStage } from "./stages/bootloader.ts";
import { diskStage, type PartitionFill } from "./stages/disk.ts";
import { imageStage } from "./stages/image.ts";
import { rootfsStage } from "./stages/rootfs.ts";

export interface RecipeOptions {
  version: string;
  fillB: boolean;
  /** Only the disk image (a target embedded in another): no archives. */
  diskOnly: boolean;
  /** Also the compressed release archives (disk archive, update images): `icos build --artifacts`. */
  artifacts: boolean;
  signingKey?: SigningKey;
  /** Every key the image trusts, each once, in fingerprint order. */
  trustedKeys: PublicKey[];
  /** Build another target (cached) for an embedded image; recipes never build one themselves. */
  dependency(target: string): Promise<{ diskImg: string; diskBlockSha256: string; digest: string }>;
}

/**
 * What a recipe made: the files of the output directory (name -> path in the store), the sha256
 * of each archive and the block digest (src/fs/sparse.ts) of each sparse image.
 */
export interface RecipeResult {
  files: Record<string, string>;
  sha256: Record<string, string>;
  blockSha256: Record<string, string>;
  /** The disk's partitions: index -> block digest of what was written there. */
  partitionBlockSha256: Record<number, string>;
  diskImg: string;
  /** The disk stage's digest: what a target embedding this one keys on. */
  diskDigest: string;
  inputs: Record<string, string>;
}

export type RecipeFn = (ctx: StageContext, target: Target, layout: ResolvedLayout, opts: RecipeOptions) => Promise<RecipeResult>;

export interface Recipe {
  /** The stages, in the order they run (for `icos targets` and docs). */
  stages: readonly string[];
  build: RecipeFn;
}

/** A kind whose stages do not exist yet: why. */
export interface MissingRecipe {
  missing: string;
}

/** The partitions a variant embeds other targets' disk images into, each with its source. */
async function embedded(target: Target, layout: ResolvedLayout, opts: RecipeOptions): Promise<Record<number, PartitionFill>> {
  const fill: Record<number, PartitionFill> = {};
  for (const [name, dep] of Object.entries(target.os.variants[target.variant]!.embed)) {
    const part = layout.partitions.find((p) => p.name === name);
    if (!part) throw new UserError(`${target.os.file}: variants.${target.variant}.embed: no partition named ${name} in layout ${layout.name}`);
    const made = await opts.dependency(dep);
    fill[part.index] = { source: made.diskImg, blockSha256: made.diskBlockSha256, digest: `${dep}:${made.digest}` };
  }
  return fill;
}

/** An A/B disk with GPT slots (GuestOS, Boundary-guestOS). */
const abGptDisk: RecipeFn = async (ctx, target, layout, opts) => {
  const { os, variant } = target;
  const contract = deviceContract(layout, loadBootCycleTable());
  const base = await pinnedBase(os, os.variants[variant]!.base);
  const context = await assembleContext(ctx.store, os, { components: true, sourceDateEpoch: os.sourceDateEpoch });
  const contextDigest = await digestTree(context);
  const image = await runStage(ctx, imageStage, { target, baseImage: base.image, context, contextDigest });
  const trust = { keys: opts.trustedKeys, unsigned: os.variants[variant]!.unsignedUpgrades };
  const [bootA, rootA] = [slotPartition(layout, "boot", "A"), slotPartition(layout, "root", "A")];
  const componentsDigest = await componentsDigestOf(os);
  const rootfs = await runStage(ctx, rootfsStage, { target, imageId: image.imageId, componentsDigest, contract, bootBytes: bootA.sizeBytes, rootBytes: rootA.sizeBytes, version: opts.version, trust });
  const esp = partitionOf(layout, "esp");
  const grub = partitionOf(layout, "grub");
  // A config partition with a filesystem is made at build time (no mkfs on the first boot's critical path).
  const cfg = layout.partitions.find((p) => p.contents === "config" && p.filesystem === "ext4");
  const config = cfg && { name: cfg.name, bytes: cfg.sizeBytes, label: cfg.label ?? cfg.name };
  const boot = await runStage(ctx, bootloaderStage, await bootloaderInput({ osName: os.name, sourceDateEpoch: os.sourceDateEpoch, contract, espName: esp.name, espBytes: esp.sizeBytes, grubBytes: grub.sizeBytes, config }));

  const fill: Record<number, PartitionFill> = {
    [esp.index]: { source: boot.espImg, blockSha256: boot.blockSha256["esp.img"]!, digest: `${boot.digest}:esp.img` },
    [grub.index]: { source: boot.grubImg, blockSha256: boot.blockSha256["grub.img"]!, digest: `${boot.digest}:grub.img` },
    ...(cfg && boot.configImg ? { [cfg.index]: { source: boot.configImg, blockSha256: boot.blockSha256["config.img"]!, digest: `${boot.digest}:config.img` } } : {}),
    ...(await embedded(target, layout, opts)),
  };
  for (const slot of opts.fillB ? (["A", "B"] as const) : (["A"] as const)) {
    for (const [contents, file, img] of [["boot", "boot.img", rootfs.bootImg], ["root", "root.img", rootfs.rootImg]] as const) {
      fill[slotPartition(layout, contents, slot).index] = { source: img, blockSha256: rootfs.blockSha256[file]!, digest: `${rootfs.digest}:${file}` };
    }
  }
  const disk = await runStage(ctx, diskStage, { subject: `${target.id} disk (${opts.fillB ? "A+B" : "A"})`, layout, fill });
  const inputs = { baseImage: base.image, image: image.imageId, context: contextDigest, components: componentsDigest };
  const diskOnly = { files: { "disk.img": disk.diskImg }, sha256: {}, blockSha256: { "disk.img": disk.diskBlockSha256 }, partitionBlockSha256: disk.partitionBlockSha256, diskImg: disk.diskImg, diskDigest: disk.digest, inputs };
  if (opts.diskOnly || !opts.artifacts) return diskOnly;
  const artifacts = await runStage(ctx, artifactsStage, {
    subject: `${target.id} archives`,
    disk: { img: disk.diskImg, digest: disk.digest },
    slot: { bootImg: rootfs.bootImg, rootImg: rootfs.rootImg, digest: rootfs.digest },
    version: opts.version,
    sourceDateEpoch: os.sourceDateEpoch,
    target: target.id,
    osName: os.name,
    signing: opts.signingKey,
  });
  const archives = [DISK_ARCHIVE, ...UPDATE_ARCHIVES];
  return { ...diskOnly, files: { ...diskOnly.files, ...Object.fromEntries(archives.map((a) => [a, `${artifacts.dir}/${a}`])) }, sha256: artifacts.sha256 };
};

export const RECIPES: Record<OsKind, Recipe | MissingRecipe> = {
  "ab-gpt-disk": { stages: ["image", "rootfs", "bootloader", "disk", "artifacts"], build: abGptDisk },
  "ab-lvm-disk": { missing: "the LVM volume stage is not written yet (HostOS issue)" },
  "installer-disk": { missing: "the installer data stage is not written yet (SetupOS issue)" },
};

export function recipeFor(kind: OsKind): Recipe | MissingRecipe {
  return RECIPES[kind];
}
