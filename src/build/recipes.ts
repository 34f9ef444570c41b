// Recipes: which stages build each kind of image (os.yaml `kind`), the way LinuxKit maps an
// output format to one function. Adding an OS of an existing kind is data only.
import type { OsKind } from "../model/os.ts";

export interface Recipe {
  /** The stages, in the order they run (names of src/build/stages/). */
  stages: readonly string[];
  /** Files a build of this kind publishes in its output directory. */
  outputs: readonly string[];
}

/** A kind whose stages do not exist yet: why, and where that work is tracked. */
export interface MissingRecipe {
  missing: string;
}

export const RECIPES: Record<OsKind, Recipe | MissingRecipe> = {
  "ab-gpt-disk": { stages: ["image", "rootfs", "bootloader", "disk", "artifacts"], outputs: ["disk.img", "disk-img.tar.zst", "update-img.tar.zst", "update-img-test.tar.zst"] },
  "ab-lvm-disk": { missing: "the LVM volume stage (HostOS issue)" },
  "installer-disk": { missing: "the installer data stage (SetupOS issue)" },
};

export function recipeFor(kind: OsKind): Recipe | MissingRecipe {
  return RECIPES[kind];
}
