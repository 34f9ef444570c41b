import type { Command } from "commander";
import { verify } from "../../build/verify.ts";
import { outDirOf, parseTarget } from "../../model/target.ts";
import { printJson } from "../output.ts";
import { addBuildFlags, buildOptionsOf, checkedOutputRoot, type BuildFlags } from "./build.ts";
import { addOutputDirFlag } from "./output-dir.ts";

export function register(program: Command): void {
  addOutputDirFlag(
    addBuildFlags(
      program
        .command("verify")
        .description("build a target twice with empty caches (same pinned base) and compare every artifact and partition; exit 1 on any difference")
        .argument("<target>", "e.g. guestos/dev"),
    ),
    "also write the verified build there (the first of the two compared builds, once they agree)",
  )
    .addHelpText("after", "\nExample:\n  $ icos verify guestos/dev --scale 1/64\n  $ icos verify guestos/prod --output-dir /tmp/release    # keeps /tmp/release/guestos/prod/")
    .action(async (text: string, flags: BuildFlags) => {
      const target = parseTarget(text);
      if (flags.outputDir !== undefined) checkedOutputRoot(flags.outputDir);
      const options = await buildOptionsOf(flags);
      const r = await verify(target, options, flags.outputDir === undefined ? undefined : outDirOf(target, { outputDir: flags.outputDir }));
      const outDir = r.outDir;
      if (flags.json) printJson(r);
      else if (r.identical) {
        console.log(`reproducible: both builds of ${text} are identical\n` + Object.entries(r.sha256).map(([f, s]) => `  ${s}  ${f}`).join("\n") + (outDir ? `\nwritten to ${outDir}` : ""));
      } else console.log(`NOT reproducible: ${text}\n` + r.differences.map((d) => `  ${d}`).join("\n"));
      if (!r.identical) process.exitCode = 1;
    });
}
