// Stage 3: the image Dockerfile (FROM the pinned base), built with no network and a fixed
// timestamp: the same base, context and variant give the same image ID.
import { join } from "node:path";
import { toolVersions } from "../../host/doctor.ts";
import type { Target } from "../../model/target.ts";
import { digestOf, digestTree } from "../digest.ts";
import { imageExists, podmanBuild } from "../podman.ts";
import type { Progress } from "../progress.ts";
import type { Store } from "../store.ts";
import { pinnedBase } from "./base.ts";
import { assembleContext } from "./context.ts";

const VERSION = 1;

export interface ImageResult {
  imageId: string;
  baseImage: string;
  contextDigest: string;
  digest: string;
}

export async function buildImage(store: Store, target: Target, progress: Progress): Promise<ImageResult> {
  const { os, variant } = target;
  const v = os.variants[variant]!;
  const base = await pinnedBase(os, v.base);
  const ctx = await assembleContext(store, os, { components: true, sourceDateEpoch: os.sourceDateEpoch });
  const contextDigest = await digestTree(ctx);
  const buildArgs = { ...v.buildArgs, BASE_IMAGE: base.image, SOURCE_DATE_EPOCH: String(os.sourceDateEpoch) };
  const digest = digestOf({ stage: "image", version: VERSION, base: base.image, contextDigest, target: v.target, buildArgs, tools: await toolVersions(["podman", "runc"]) });
  const imageId = await progress.stage("image", `${target.id} (Dockerfile --target ${v.target})`, digest, async () => {
    const hit = store.get("image", digest);
    if (hit && (await imageExists(String(hit.meta.imageId)))) return { value: String(hit.meta.imageId), cache: "hit" };
    const entry = await store.put("image", digest, async () => {
      const id = await podmanBuild({
        context: ctx,
        dockerfile: join(ctx, "Dockerfile"),
        target: v.target,
        buildArgs,
        timestamp: os.sourceDateEpoch,
        network: false,
        tag: `localhost/icos/${os.name}:${variant}`,
        what: `Dockerfile (${target.id})`,
      });
      return { imageId: id, base: base.image };
    });
    return { value: String(entry.meta.imageId), cache: "miss" };
  });
  return { imageId, baseImage: base.image, contextDigest, digest };
}
