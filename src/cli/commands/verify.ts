import type { Command } from "commander";
import { verify } from "../../build/verify.ts";
import { parseTarget } from "../../model/target.ts";
import { printJson } from "../output.ts";
import { addBuildFlags, buildOptionsOf, type BuildFlags } from "./build.ts";

export function register(program: Command): void {
  addBuildFlags(
    program
      .command("verify")
      .description("build a target twice with empty caches (same pinned base) and compare every artifact and partition; exit 1 on any difference")
      .argument("<target>", "e.g. guestos/dev"),
  )
    .addHelpText("after", "\nExample:\n  $ icos verify guestos/dev --scale 1/64")
    .action(async (text: string, flags: BuildFlags) => {
      const options = await buildOptionsOf(flags);
      const r = await verify(parseTarget(text), options);
      if (flags.json) printJson(r);
      else if (r.identical) console.log(`reproducible: both builds of ${text} are identical\n` + Object.entries(r.sha256).map(([f, s]) => `  ${s}  ${f}`).join("\n"));
      else console.log(`NOT reproducible: ${text}\n` + r.differences.map((d) => `  ${d}`).join("\n"));
      if (!r.identical) process.exitCode = 1;
    });
}
