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
  signingKey?: SigningKey;
  /** Every key the image trusts, each once, in fingerprint order. */
  trustedKeys: PublicKey[];
  /** Build another target (cached) for an embedded image; recipes never build one themselves. */
  dependency(target: string): Promise<{ diskImg: string; diskSha256: string; digest: string }>;
}

/** What a recipe made: the files of the output directory (name -> path in the store) and their sha256. */
export interface RecipeResult {
  files: Record<string, string>;
  sha256: Record<string, string>;
  /** The disk's partitions: index -> sha256 of what was written there. */
  partitionSha256: Record<number, string>;
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
    fill[part.index] = { source: made.diskImg, sha256: made.diskSha256, digest: `${dep}:${made.digest}` };
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
  const rootfs = await runStage(ctx, rootfsStage, { target, imageId: image.imageId, contract, bootBytes: bootA.sizeBytes, rootBytes: rootA.sizeBytes, version: opts.version, trust });
  const esp = partitionOf(layout, "esp");
  const grub = partitionOf(layout, "grub");
  const boot = await runStage(ctx, bootloaderStage, await bootloaderInput({ osName: os.name, sourceDateEpoch: os.sourceDateEpoch, contract, espName: esp.name, espBytes: esp.sizeBytes, grubBytes: grub.sizeBytes }));

  const fill: Record<number, PartitionFill> = {
    [esp.index]: { source: boot.espImg, sha256: boot.sha256["esp.img"]!, digest: `${boot.digest}:esp.img` },
    [grub.index]: { source: boot.grubImg, sha256: boot.sha256["grub.img"]!, digest: `${boot.digest}:grub.img` },
    ...(await embedded(target, layout, opts)),
  };
  for (const slot of opts.fillB ? (["A", "B"] as const) : (["A"] as const)) {
    for (const [contents, file, img] of [["boot", "boot.img", rootfs.bootImg], ["root", "root.img", rootfs.rootImg]] as const) {
      fill[slotPartition(layout, contents, slot).index] = { source: img, sha256: rootfs.sha256[file]!, digest: `${rootfs.digest}:${file}` };
    }
  }
  const disk = await runStage(ctx, diskStage, { subject: `${target.id} disk (${opts.fillB ? "A+B" : "A"})`, layout, fill });
  const inputs = { baseImage: base.image, image: image.imageId, context: contextDigest };
  if (opts.diskOnly) return { files: { "disk.img": disk.diskImg }, sha256: { "disk.img": disk.diskSha256 }, partitionSha256: disk.partitionSha256, diskImg: disk.diskImg, diskDigest: disk.digest, inputs };
  const artifacts = await runStage(ctx, artifactsStage, {
    subject: `${target.id} archives`,
    disk: { img: disk.diskImg, digest: disk.digest },
    slot: { bootImg: rootfs.bootImg, rootImg: rootfs.rootImg, digest: rootfs.digest },
    version: opts.version,
    sourceDateEpoch: os.sourceDateEpoch,
    target: target.id,
    signing: opts.signingKey,
  });
  const archives = [DISK_ARCHIVE, ...UPDATE_ARCHIVES];
  return {
    files: { "disk.img": disk.diskImg, ...Object.fromEntries(archives.map((a) => [a, `${artifacts.dir}/${a}`])) },
    sha256: { "disk.img": disk.diskSha256, ...artifacts.sha256 },
    partitionSha256: disk.partitionSha256,
    diskImg: disk.diskImg,
    diskDigest: disk.digest,
    inputs,
  };
};

export const RECIPES: Record<OsKind, Recipe | MissingRecipe> = {
  "ab-gpt-disk": { stages: ["image", "rootfs", "bootloader", "disk", "artifacts"], build: abGptDisk },
  "ab-lvm-disk": { missing: "the LVM volume stage is not written yet (HostOS issue)" },
  "installer-disk": { missing: "the installer data stage is not written yet (SetupOS issue)" },
};

export function recipeFor(kind: OsKind): Recipe | MissingRecipe {
  return RECIPES[kind];
}
