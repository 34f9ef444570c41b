// What `icos targets` reports: each OS under IC_OS_DIR, its kind and variants, and whether each
// target can be built now, and if not, why: no os.yaml, an os.yaml with problems, no recipe for
// its kind yet (src/build/recipes.ts), or its variant's pinned base is missing, stale or not in
// local podman storage (the build's own check, pinnedBase). Never throws for a problem of one OS
// or of the host (a missing podman is a reason like any other): the report is for finding them.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pinnedBase } from "./bases.ts";
import { recipeFor } from "./recipes.ts";
import { ToolFailedError, UserError } from "../errors.ts";
import type { OsDefinition, OsKind } from "../model/os.ts";
import { discoverOses, loadOsNamed, outDirOf, type DefinitionsOptions, type OutputOptions } from "../model/target.ts";

export interface TargetStatus {
  /** "guestos/dev" */
  target: string;
  variant: string;
  /** The variant's base flavour. */
  base: string;
  buildable: boolean;
  /** Why it cannot be built (null when it can). */
  reason: string | null;
  hint: string | null;
  /** Where `icos build` puts it, and whether a build is there (manifest.json and disk.img). */
  outDir: string;
  built: boolean;
}

export interface OsStatus {
  name: string;
  dir: string;
  /** os.yaml `kind`; null without a valid os.yaml. */
  kind: OsKind | null;
  variants: string[];
  /** A problem of the whole OS (no os.yaml, an invalid one); each target then has none. */
  reason: string | null;
  hint: string | null;
  targets: TargetStatus[];
}

export interface StatusOptions extends DefinitionsOptions, OutputOptions {
  /** Throws a UserError when the flavour's pinned base is not usable (default: the build's pinnedBase). */
  checkBase?: (os: OsDefinition, flavour: string) => Promise<unknown>;
}

type Problem = { reason: string; hint: string | null };

function problemOf(e: unknown): Problem {
  // A UserError (a missing or stale pin, a missing tool) or a tool that failed: a reason, not a crash.
  if (e instanceof UserError) return { reason: e.message, hint: e.hint ?? null };
  if (e instanceof ToolFailedError) return { reason: e.message, hint: null };
  throw e;
}

export async function targetStatuses(opts: StatusOptions = {}): Promise<OsStatus[]> {
  const checkBase = opts.checkBase ?? pinnedBase;
  const out: OsStatus[] = [];
  for (const folder of discoverOses(opts)) {
    const status: OsStatus = { name: folder.name, dir: folder.dir, kind: null, variants: [], reason: null, hint: null, targets: [] };
    out.push(status);
    let os: OsDefinition;
    try {
      os = loadOsNamed(folder.name, opts);
    } catch (e) {
      Object.assign(status, problemOf(e));
      continue;
    }
    status.kind = os.kind;
    status.variants = Object.keys(os.variants);
    const recipe = recipeFor(os.kind);
    // One check per base flavour: variants share them.
    const bases = new Map<string, Promise<Problem | null>>();
    for (const [variant, def] of Object.entries(os.variants)) {
      let problem: Problem | null;
      if ("missing" in recipe) {
        problem = { reason: `kind ${os.kind} cannot be built yet: ${recipe.missing}`, hint: "src/build/recipes.ts maps each kind to its stages" };
      } else {
        if (!bases.has(def.base)) bases.set(def.base, checkBase(os, def.base).then(() => null, problemOf));
        problem = await bases.get(def.base)!;
      }
      const outDir = outDirOf({ os, variant }, opts);
      status.targets.push({
        target: `${os.name}/${variant}`,
        variant,
        base: def.base,
        buildable: problem === null,
        reason: problem?.reason ?? null,
        hint: problem?.hint ?? null,
        outDir,
        built: existsSync(join(outDir, "manifest.json")) && existsSync(join(outDir, "disk.img")),
      });
    }
  }
  return out;
}
