// icos verify: build a target twice, each time with an empty stage store (the pinned base is
// reused), and compare every artifact and every partition. A difference is a bug: the report
// names the partition and, for ext4 and vfat partitions, the files that differ (compare.ts).
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Target } from "../model/target.ts";
import { compareBuilds } from "./compare.ts";
import { build, type BuildOptions, type BuildResult, writeOut } from "./pipeline.ts";

export interface VerifyResult {
  identical: boolean;
  sha256: Record<string, string>;
  blockSha256: Record<string, string>;
  differences: string[];
}

/**
 * Build `target` twice, each from an empty store, and compare. With `publishTo`, a verified build
 * (the first) is written there the way `icos build` writes its output directory.
 */
export async function verify(target: Target, opts: Omit<BuildOptions, "outDir" | "cacheDir">, publishTo?: string): Promise<VerifyResult & { outDir?: string }> {
  const scratch = await mkdtemp(join(tmpdir(), "icos-verify-"));
  try {
    const builds: BuildResult[] = [];
    for (const n of [1, 2]) {
      builds.push(await build(target, { ...opts, cacheDir: join(scratch, `cache${n}`), outDir: join(scratch, `out${n}`) }));
      // Each build's store is thrown away: the second build must start from nothing too.
      await rm(join(scratch, `cache${n}`), { recursive: true, force: true });
    }
    const [a, b] = builds as [BuildResult, BuildResult];
    const r = await compareBuilds(a, b, join(scratch, "compare"));
    const sums = { sha256: a.manifest.sha256 as Record<string, string>, blockSha256: a.manifest.blockSha256 as Record<string, string> };
    if (!r.identical || publishTo === undefined) return { ...r, ...sums };
    const files = Object.fromEntries([...Object.keys(sums.sha256), ...Object.keys(sums.blockSha256)].map((f) => [f, join(a.outDir, f)]));
    await writeOut(publishTo, files, sums, await readFile(join(a.outDir, "manifest.json"), "utf8"));
    return { ...r, ...sums, outDir: publishTo };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
