// Stage: the image Dockerfile (FROM the pinned base), built with no network and a fixed
// timestamp: the same base, context and variant give the same image ID.
import { join } from "node:path";
import type { Target } from "../../model/target.ts";
import { imageExists, podmanBuild } from "../podman.ts";
import type { Stage } from "../stage.ts";

export interface ImageInput {
  target: Target;
  /** The pinned base image ID (bases.ts pinnedBase). */
  baseImage: string;
  /** The assembled build context (context.ts) and its digest. */
  context: string;
  contextDigest: string;
}

export interface ImageOutput {
  imageId: string;
}

function settings(input: ImageInput) {
  const { os, variant } = input.target;
  const v = os.variants[variant]!;
  return { dockerTarget: v.target, buildArgs: { ...v.buildArgs, BASE_IMAGE: input.baseImage, SOURCE_DATE_EPOCH: String(os.sourceDateEpoch) } };
}

export const imageStage: Stage<ImageInput, ImageOutput> = {
  name: "image",
  version: 1,
  tools: ["podman", "runc"],
  key: (i) => ({ base: i.baseImage, contextDigest: i.contextDigest, target: settings(i).dockerTarget, buildArgs: settings(i).buildArgs }),
  subject: (i) => `${i.target.id} (Dockerfile --target ${settings(i).dockerTarget})`,
  async run(_dir, i) {
    const { dockerTarget, buildArgs } = settings(i);
    const imageId = await podmanBuild({
      context: i.context,
      dockerfile: join(i.context, "Dockerfile"),
      target: dockerTarget,
      buildArgs,
      timestamp: i.target.os.sourceDateEpoch,
      network: false,
      tag: `localhost/icos/${i.target.os.name}:${i.target.variant}`,
      what: `Dockerfile (${i.target.id})`,
    });
    return { imageId, base: i.baseImage };
  },
  output: (_dir, meta) => ({ imageId: String(meta.imageId) }),
  // The entry only names a podman image: a hit needs that image still in local storage.
  usable: (meta) => imageExists(String(meta.imageId)),
};
