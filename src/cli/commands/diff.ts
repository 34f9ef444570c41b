import type { Command } from "commander";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { compareBuilds, readBuildOutput } from "../../build/compare.ts";
import { resolveArtifact } from "../../model/target.ts";
import { printJson } from "../output.ts";
import { addOutputDirFlag } from "./output-dir.ts";

export function register(program: Command): void {
  addOutputDirFlag(
    program
      .command("diff")
      .description("compare two builds file by file: published files, partitions, and the files inside each ext4/vfat partition that differs; exit 1 when they differ")
      .argument("<a>", "an output directory of `icos build`, or a target that was built (e.g. guestos/dev)")
      .argument("<b>", "the other build")
      .option("--all", "list every differing file (default: the first 20 per partition)")
      .option("--json", "print the result as JSON"),
    "where targets were built",
  )
    .addHelpText("after", "\nExample:\n  $ icos build guestos/dev --output-dir /tmp/before   # ... change something, then:\n  $ icos build guestos/dev && icos diff /tmp/before/guestos/dev guestos/dev")
    .action(async (a: string, b: string, opts: { all?: boolean; json?: boolean; outputDir?: string }) => {
      const dirOf = (arg: string) => dirname(resolveArtifact(arg, { file: "manifest.json", what: "an output directory holding manifest.json", outputDir: opts.outputDir }).path);
      const [outA, outB] = [await readBuildOutput(dirOf(a)), await readBuildOutput(dirOf(b))];
      const scratch = await mkdtemp(join(tmpdir(), "icos-diff-"));
      try {
        const r = await compareBuilds(outA, outB, scratch, { maxFiles: opts.all ? Infinity : 20 });
        if (opts.json) printJson({ a: outA.outDir, b: outB.outDir, ...r });
        else console.log(r.identical ? `identical: ${outA.outDir} and ${outB.outDir}` : r.differences.join("\n"));
        if (!r.identical) process.exitCode = 1;
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    });
}
