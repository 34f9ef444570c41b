// Stage 2: Dockerfile.base (upstream packages) on top of the bootstrap, pinned by image ID.
// apt's output changes as the archive moves, so a base is built only by `icos base update`; a
// build uses the pinned image and refuses a stale or missing pin with a clear hint.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import type { OsDefinition } from "../model/os.ts";
import { readLock, writeLock, type BasePin } from "./base-lock.ts";
import { digestOf } from "./digest.ts";
import { sha256 } from "../fs/hash.ts";
import { imageExists, podman, podmanBuild } from "./podman.ts";
import type { Progress } from "./progress.ts";
import type { Store } from "./store.ts";
import { runStage, stageDigest } from "./stage.ts";
import { bootstrapStage } from "./stages/bootstrap.ts";
import { assembleContext } from "./context.ts";

/** Digest of everything a base flavour is built from. */
export async function baseInputs(os: OsDefinition, flavour: string): Promise<string> {
  const files = ["Dockerfile.base", ...os.bases[flavour]!];
  const contents = await Promise.all(files.map(async (f) => [f, sha256(await readFile(join(os.dir, "context", f)))]));
  return digestOf({ stage: "base", bootstrap: await stageDigest(bootstrapStage, os), flavour, files: contents, packageFiles: os.bases[flavour] });
}

/** The pinned base image of a flavour, checked against the lock and local storage. */
export async function pinnedBase(os: OsDefinition, flavour: string): Promise<BasePin> {
  const pin = readLock(os)[flavour];
  const hint = `run \`icos base update ${os.name}\` (rebuilds from the archive and re-pins), or \`icos base import FILE\` to use a base exported on another machine`;
  if (!pin) throw new UserError(`${os.name}: no pinned base for flavour ${flavour} in ${os.name}/base.lock.json`, hint);
  const inputs = await baseInputs(os, flavour);
  if (pin.inputs !== inputs) {
    throw new UserError(`${os.name}: the pinned ${flavour} base is stale: Dockerfile.base, a package list or the bootstrap settings changed since it was pinned`, hint);
  }
  if (!(await imageExists(pin.image))) throw new UserError(`${os.name}: pinned ${flavour} base ${pin.image} is not in local podman storage`, hint);
  return pin;
}

/** Rebuild base flavours from the archive and pin them (all flavours, or `onlyMissing`). */
export async function updateBases(store: Store, os: OsDefinition, progress: Progress, opts: { onlyMissing?: boolean } = {}): Promise<Record<string, BasePin>> {
  const lock = readLock(os);
  const pinned: Record<string, BasePin> = {};
  let bootstrapTag: string | undefined;
  for (const flavour of Object.keys(os.bases).sort()) {
    const inputs = await baseInputs(os, flavour);
    const old = lock[flavour];
    if (opts.onlyMissing && old && old.inputs === inputs && (await imageExists(old.image))) {
      pinned[flavour] = old;
      progress.note(`base ${os.name}/${flavour}: pinned ${old.image.slice(0, 19)} is present`);
      continue;
    }
    if (!bootstrapTag) {
      const { tar, digest } = await runStage({ store, progress }, bootstrapStage, os);
      bootstrapTag = `localhost/icos/${os.name}-bootstrap:${digest.slice(0, 12)}`;
      await progress.stage("import", `${os.name} bootstrap into podman`, bootstrapTag, async () => {
        await podman(["import", tar, bootstrapTag!], { context: `podman import (${os.name} bootstrap)` });
        return { value: undefined, cache: "miss" };
      });
    }
    const image = await progress.stage("base", `${os.name}/${flavour} (Dockerfile.base)`, inputs, async () => {
      const ctx = await assembleContext(store, os, { components: false, sourceDateEpoch: os.sourceDateEpoch });
      const id = await podmanBuild({
        context: ctx,
        dockerfile: join(ctx, "Dockerfile.base"),
        buildArgs: { BOOTSTRAP_IMAGE: bootstrapTag!, PACKAGE_FILES: os.bases[flavour]!.join(" ") },
        timestamp: os.sourceDateEpoch,
        network: true,
        tag: `localhost/icos/${os.name}-base:${flavour}`,
        what: `Dockerfile.base (${os.name}/${flavour})`,
      });
      return { value: id, cache: "miss" };
    });
    pinned[flavour] = { image, inputs };
    lock[flavour] = pinned[flavour];
    await writeLock(os, lock);
  }
  return pinned;
}
