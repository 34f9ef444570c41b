// Keeping the cache to a size (`icos clean`, and the build's warning): the stage store is pruned
// least recently used first (an entry's directory mtime, set when it is committed or hit; see
// store.ts) until it fits the budget, ICOS_CACHE_BUDGET (default 30G). Kept whatever their age:
// the entries the current output directories were built from (every stage digest in each
// <out>/<os>/<variant>/manifest.json), and, by taking the cache lock, everything a running build
// uses (a build holds the lock for as long as it runs: clean then leaves the store alone). Sizes
// are allocated blocks, not apparent sizes: the disks in the store are sparse. (Left-over VM work
// directories are src/vm/registry.ts's; `icos clean` removes both.)
import type { Stats } from "node:fs";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { ToolMissingError, UserError } from "../errors.ts";
import { checkSize, humanSize } from "../model/size.ts";
import { cacheDir, outRoot } from "../paths.ts";
import { openStore } from "./cache.ts";
import { Store } from "./store.ts";

export const DEFAULT_BUDGET = "30G";

export interface Budget {
  bytes: number;
  /** As written: "30G". */
  text: string;
  /** Where it came from: the flag, the environment, or the default. */
  source: "--budget" | "ICOS_CACHE_BUDGET" | "default";
}

/** The budget from --budget, else ICOS_CACHE_BUDGET, else the default; a bad value is a UserError naming it. */
export function cacheBudget(flag?: string, env: NodeJS.ProcessEnv = process.env): Budget {
  const [text, source] = flag !== undefined ? [flag, "--budget" as const] : env.ICOS_CACHE_BUDGET ? [env.ICOS_CACHE_BUDGET, "ICOS_CACHE_BUDGET" as const] : [DEFAULT_BUDGET, "default" as const];
  const r = checkSize(text);
  if (!r.ok) throw new UserError(`${source === "--budget" ? "--budget" : "ICOS_CACHE_BUDGET"}: ${r.message}`, 'a size such as "40G" or "500M" (binary units)');
  return { bytes: r.bytes, text, source };
}

/** Allocated bytes (st_blocks) below `path`, each inode once (`seen` shared across calls). */
export async function allocatedBytes(path: string, seen = new Set<string>()): Promise<number> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch {
    return 0; // removed meanwhile
  }
  const id = `${st.dev}:${st.ino}`;
  let bytes = 0;
  if (!seen.has(id)) {
    seen.add(id);
    bytes += st.blocks * 512;
  }
  if (st.isDirectory()) {
    const names = await readdir(path).catch(() => [] as string[]);
    for (const n of names) bytes += await allocatedBytes(join(path, n), seen);
  }
  return bytes;
}

export interface StoreObject {
  stage: string;
  digest: string;
  path: string;
  bytes: number;
  /** ms since the epoch: committed or last hit. */
  lastUsed: number;
  /** A current output directory's manifest names it. */
  inUse: boolean;
}

/** "<stage>/<digest>" of every stage that each <root>/<os>/<variant>/manifest.json was built from. */
export function digestsInUse(outRoots: readonly string[]): Set<string> {
  const used = new Set<string>();
  for (const root of outRoots) {
    for (const os of subdirs(root)) {
      for (const variant of subdirs(join(root, os))) {
        let manifest: { stages?: unknown };
        try {
          manifest = JSON.parse(readFileSync(join(root, os, variant, "manifest.json"), "utf8")) as { stages?: unknown };
        } catch {
          continue;
        }
        if (!Array.isArray(manifest.stages)) continue;
        for (const s of manifest.stages as { stage?: unknown; digest?: unknown }[]) {
          if (typeof s?.stage === "string" && typeof s.digest === "string") used.add(`${s.stage}/${s.digest}`);
        }
      }
    }
  }
  return used;
}

function files(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => !e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** Every committed entry of the store at `root`, with its size and last use. */
export async function storeObjects(root: string, inUse: ReadonlySet<string> = new Set()): Promise<StoreObject[]> {
  const objects: StoreObject[] = [];
  const seen = new Set<string>();
  const base = join(root, "objects");
  for (const stage of subdirs(base)) {
    for (const digest of subdirs(join(base, stage))) {
      const path = join(base, stage, digest);
      const mtime = statSync(path, { throwIfNoEntry: false })?.mtimeMs;
      if (mtime === undefined) continue;
      objects.push({ stage, digest, path, bytes: await allocatedBytes(path, seen), lastUsed: mtime, inUse: inUse.has(`${stage}/${digest}`) });
    }
  }
  return objects;
}

/**
 * What to remove to fit `budgetBytes`: entries not in use, least recently used first, until the
 * whole store (in-use entries included) fits; with `all`, every entry.
 */
export function planPrune(objects: readonly StoreObject[], budgetBytes: number, all = false): { remove: StoreObject[]; keep: StoreObject[] } {
  if (all) return { remove: [...objects], keep: [] };
  let total = objects.reduce((sum, o) => sum + o.bytes, 0);
  const remove = new Set<StoreObject>();
  const candidates = objects.filter((o) => !o.inUse).sort((a, b) => a.lastUsed - b.lastUsed || a.path.localeCompare(b.path));
  for (const o of candidates) {
    if (total <= budgetBytes) break;
    remove.add(o);
    total -= o.bytes;
  }
  return { remove: objects.filter((o) => remove.has(o)), keep: objects.filter((o) => !remove.has(o)) };
}

export interface PruneOptions {
  /** The cache holding the store; default $ICOS_CACHE_DIR or .icos-cache. */
  cache?: string;
  /** Output roots whose manifests keep their entries; default [$ICOS_OUT_DIR or out/]. */
  outRoots?: string[];
  budget: Budget;
  all?: boolean;
  dryRun?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface PruneReport {
  cache: string;
  budget: { bytes: number; text: string; source: Budget["source"] };
  dryRun: boolean;
  all: boolean;
  /** The store before: entries and allocated bytes (temp files of killed builds included in tmpBytes). */
  before: { objects: number; bytes: number; tmpBytes: number };
  removed: { stage: string; digest: string; bytes: number; lastUsed: string }[];
  kept: { objects: number; bytes: number; inUse: number; inUseBytes: number };
  /** Entries and temp files removed (or that would be, with dryRun), in bytes. */
  freedBytes: number;
  /** A build held the cache lock: the store was left as it is. */
  storeLockedBy?: string;
}

/** Move an entry out of objects/ first, so no lookup ever sees it half removed; then delete it. */
function removeEntry(store: Store, path: string): void {
  const trash = store.scratch("prune");
  renameSync(path, join(trash, "entry"));
  rmSync(trash, { recursive: true, force: true });
}

export async function pruneStore(o: PruneOptions): Promise<PruneReport> {
  const env = o.env ?? process.env;
  const cache = o.cache ?? cacheDir(env);
  const dryRun = o.dryRun === true;
  const objects = await storeObjects(cache, digestsInUse(o.outRoots ?? [outRoot(env)]));
  const tmpSeen = new Set<string>();
  let tmpBytes = 0; // what is in tmp/, not tmp/ itself
  for (const name of subdirs(join(cache, "tmp")).concat(files(join(cache, "tmp")))) tmpBytes += await allocatedBytes(join(cache, "tmp", name), tmpSeen);
  const plan = planPrune(objects, o.budget.bytes, o.all === true);
  let storeLockedBy: string | undefined;
  let release: (() => void) | undefined;
  let store: Store | undefined;
  if (!dryRun && existsSync(join(cache, "objects"))) {
    try {
      ({ store, release } = openStore(cache, { waitSeconds: 0 })); // also clears tmp/ of killed builds
    } catch (e) {
      if (e instanceof ToolMissingError || !(e instanceof UserError)) throw e;
      storeLockedBy = e.message;
    }
  }
  const removed = storeLockedBy === undefined ? plan.remove : [];
  try {
    if (store) for (const obj of removed) removeEntry(store, obj.path);
  } finally {
    release?.();
  }
  const kept = storeLockedBy === undefined ? plan.keep : objects;
  const sum = (list: readonly { bytes: number }[]) => list.reduce((s, x) => s + x.bytes, 0);
  const freedStore = sum(removed) + (storeLockedBy === undefined ? tmpBytes : 0);
  return {
    cache,
    budget: { bytes: o.budget.bytes, text: o.budget.text, source: o.budget.source },
    dryRun,
    all: o.all === true,
    before: { objects: objects.length, bytes: sum(objects), tmpBytes },
    removed: removed.map((x) => ({ stage: x.stage, digest: x.digest, bytes: x.bytes, lastUsed: new Date(x.lastUsed).toISOString() })),
    kept: { objects: kept.length, bytes: sum(kept), inUse: kept.filter((x) => x.inUse).length, inUseBytes: sum(kept.filter((x) => x.inUse)) },
    freedBytes: freedStore,
    ...(storeLockedBy === undefined ? {} : { storeLockedBy }),
  };
}

export interface BudgetCheck {
  bytes: number;
  budgetBytes: number;
  over: boolean;
}

/**
 * For `icos build`: say on stderr (or `note`) when the store holds more than its budget, with the
 * command that prunes it. Never fails a build: a bad ICOS_CACHE_BUDGET is reported and the default used.
 */
export async function warnIfOverBudget(store: Store | string = cacheDir(), o: { env?: NodeJS.ProcessEnv; note?: (line: string) => void } = {}): Promise<BudgetCheck> {
  const note = o.note ?? ((line: string) => process.stderr.write(line + "\n"));
  let budget: Budget;
  try {
    budget = cacheBudget(undefined, o.env);
  } catch (e) {
    note(`warning: ${(e as Error).message}; using the default budget ${DEFAULT_BUDGET}`);
    budget = cacheBudget(undefined, {});
  }
  const root = typeof store === "string" ? store : store.root;
  const seen = new Set<string>();
  const bytes = (await allocatedBytes(join(root, "objects"), seen)) + (await allocatedBytes(join(root, "tmp"), seen));
  const over = bytes > budget.bytes;
  if (over) {
    note(
      `warning: the stage store ${root} holds ${humanSize(bytes)}, over its budget of ${budget.text}` +
        (budget.source === "default" ? " (set ICOS_CACHE_BUDGET to change it)" : ` (ICOS_CACHE_BUDGET)`) +
        "; `icos clean` removes the least recently used entries (`icos clean --dry-run` shows which)",
    );
  }
  return { bytes, budgetBytes: budget.bytes, over };
}
