// Where icos finds its own files: the repository (or installed package) root holds ic-os/.
// Which OSes and targets exist is src/model/target.ts's business (it reads IC_OS_DIR).
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// src/paths.ts and dist/paths.js both sit one level below the root.
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// ICOS_IC_OS_DIR / ICOS_OUT_DIR let tests build from a modified copy of the definitions
// without touching the checkout.
export const IC_OS_DIR = process.env.ICOS_IC_OS_DIR ? resolve(process.env.ICOS_IC_OS_DIR) : join(ROOT, "ic-os");
export const OUT_DIR = outRoot();

/** Where builds put out/<os>/<variant>/: $ICOS_OUT_DIR, default <repo>/out (`--output-dir` overrides both). */
export function outRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.ICOS_OUT_DIR ? resolve(env.ICOS_OUT_DIR) : join(ROOT, "out");
}

/** The cache: stage store (objects/, tmp/), VM work dirs (vm/), the KVM verdict (accel.json). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.ICOS_CACHE_DIR ? resolve(env.ICOS_CACHE_DIR) : join(ROOT, ".icos-cache");
}
