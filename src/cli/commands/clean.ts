import type { Command } from "commander";
import { rmSync } from "node:fs";
import { allocatedBytes, cacheBudget, DEFAULT_BUDGET, pruneStore, type PruneReport } from "../../build/store-prune.ts";
import { humanSize } from "../../model/size.ts";
import { outRoot } from "../../paths.ts";
import { leftoverWorkDirs } from "../../vm/registry.ts";
import { printJson } from "../output.ts";
import { addOutputDirFlag } from "./output-dir.ts";

interface CleanFlags {
  all?: boolean;
  dryRun?: boolean;
  budget?: string;
  json?: boolean;
  outputDir?: string;
}

function text(r: PruneReport, vmDirs: { path: string; bytes: number }[]): string {
  const will = r.dryRun ? "would remove" : "removed";
  const lines = [
    `stage store ${r.cache}: ${humanSize(r.before.bytes)} in ${r.before.objects} entr${r.before.objects === 1 ? "y" : "ies"}` +
      (r.all ? "" : `; budget ${r.budget.text} (${r.budget.source === "default" ? "default; ICOS_CACHE_BUDGET sets it" : r.budget.source})`),
  ];
  if (r.storeLockedBy !== undefined) lines.push(`  left as it is: ${r.storeLockedBy}`);
  else {
    const removedBytes = r.removed.reduce((s, x) => s + x.bytes, 0);
    lines.push(`  ${will} ${r.removed.length} entr${r.removed.length === 1 ? "y" : "ies"} (${humanSize(removedBytes)})` + (r.all ? "" : ", least recently used first"));
    for (const x of r.removed) lines.push(`    ${x.stage}/${x.digest.slice(0, 12)}  ${humanSize(x.bytes).padStart(6)}  last used ${x.lastUsed.slice(0, 16).replace("T", " ")}`);
    if (r.before.tmpBytes > 0) lines.push(`  ${will} temp files of killed builds (${humanSize(r.before.tmpBytes)})`);
    lines.push(`  kept ${r.kept.objects} (${humanSize(r.kept.bytes)}), ${r.kept.inUse} of them used by the current output directories (${humanSize(r.kept.inUseBytes)})`);
    if (!r.all && r.kept.inUseBytes > r.budget.bytes) lines.push(`  note: the entries in use alone exceed the budget`);
  }
  lines.push(`VM work dirs whose VM is gone: ${will} ${vmDirs.length} (${humanSize(vmDirs.reduce((s, d) => s + d.bytes, 0))})`);
  for (const d of vmDirs) lines.push(`    ${d.path}  ${humanSize(d.bytes)}`);
  return lines.join("\n");
}

export function register(program: Command): void {
  addOutputDirFlag(
    program
      .command("clean")
      .description(
        "prune the stage store least recently used first down to its budget (ICOS_CACHE_BUDGET, default " +
          `${DEFAULT_BUDGET}), keeping what the current output directories were built from and leaving the store alone while a build runs; ` +
          "also removes VM work dirs whose VM is gone",
      )
      .option("--all", "remove every entry of the store, in use or not (pinned base images in podman stay)")
      .option("--budget <size>", "prune down to this size instead of ICOS_CACHE_BUDGET, e.g. 20G")
      .option("--dry-run", "say what would be removed, remove nothing")
      .option("--json", "print { cache, budget, dryRun, all, before, removed, kept, freedBytes, storeLockedBy?, vmDirs } as JSON"),
    "whose manifests name the store entries to keep",
  )
    .addHelpText(
      "after",
      "\nExample:\n  $ icos clean --dry-run\n  $ ICOS_CACHE_BUDGET=20G icos clean\n  $ icos clean --all --json\n" +
        "\nSizes are allocated blocks (du), not apparent sizes: the disks are sparse. Exit 1 when a build holds the cache lock (the store is then left as it is).",
    )
    .action(async (flags: CleanFlags) => {
      const budget = cacheBudget(flags.budget);
      const report = await pruneStore({ budget, all: flags.all, dryRun: flags.dryRun, outRoots: [flags.outputDir ?? outRoot()] });
      const vmDirs = await Promise.all(leftoverWorkDirs().map(async (path) => ({ path, bytes: await allocatedBytes(path) })));
      if (!flags.dryRun) for (const d of vmDirs) rmSync(d.path, { recursive: true, force: true });
      if (flags.json) printJson({ ...report, vmDirs, freedBytes: report.freedBytes + vmDirs.reduce((s, d) => s + d.bytes, 0) });
      else console.log(text(report, vmDirs));
      if (report.storeLockedBy !== undefined) {
        console.error("error: the stage store was not pruned: a build holds the cache lock; run icos clean again when it is done");
        process.exitCode = 1;
      }
    });
}
