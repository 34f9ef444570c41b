// Where icos finds its own files: the repository (or installed package) root holds ic-os/.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "./errors.ts";

// src/paths.ts and dist/paths.js both sit one level below the root.
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// ICOS_IC_OS_DIR / ICOS_OUT_DIR let tests build from a modified copy of the definitions
// without touching the checkout.
export const IC_OS_DIR = process.env.ICOS_IC_OS_DIR ? resolve(process.env.ICOS_IC_OS_DIR) : join(ROOT, "ic-os");
export const OUT_DIR = process.env.ICOS_OUT_DIR ? resolve(process.env.ICOS_OUT_DIR) : join(ROOT, "out");
export const OS_NAMES = ["guestos", "hostos", "setupos", "boundary-guestos"] as const;
export type OsName = (typeof OS_NAMES)[number];

/** The layout file for an OS name, or the argument itself when it is a path to a file. */
export function layoutFile(osOrPath: string): string {
  if ((OS_NAMES as readonly string[]).includes(osOrPath)) return join(IC_OS_DIR, osOrPath, "layout.yaml");
  if (existsSync(osOrPath)) return resolve(osOrPath);
  throw new UserError(`unknown OS or missing layout file: ${osOrPath}`, `use one of ${OS_NAMES.join(", ")} or a path to a layout.yaml`);
}

/** The cache: stage store (objects/, tmp/), VM work dirs (vm/), the KVM verdict (accel.json). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.ICOS_CACHE_DIR ? resolve(env.ICOS_CACHE_DIR) : join(ROOT, ".icos-cache");
}
