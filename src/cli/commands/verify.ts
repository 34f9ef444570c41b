import type { Command } from "commander";
import { verify } from "../../build/verify.ts";
import { parseTarget } from "../../model/target.ts";
import { printJson } from "../output.ts";
import { parseScale } from "./build.ts";

export function register(program: Command): void {
  program
    .command("verify")
    .description("build a target twice with empty caches (same pinned base) and compare every artifact and partition; exit 1 on any difference")
    .argument("<target>", "e.g. guestos/dev")
    .option("--scale <factor>", "scale partition sizes down, e.g. 1/64")
    .option("--fill-b", "also write the B partition set")
    .option("--version <version>", "the image version", "0.0.0")
    .option("--json", "print the result as JSON")
    .addHelpText("after", "\nExample:\n  $ icos verify guestos/dev --scale 1/64")
    .action(async (text: string, opts: { scale?: string; fillB?: boolean; version: string; json?: boolean }) => {
      const r = await verify(parseTarget(text), { scale: parseScale(opts.scale), fillB: !!opts.fillB, version: opts.version, quiet: !!opts.json });
      if (opts.json) printJson(r);
      else if (r.identical) console.log(`reproducible: both builds of ${text} are identical\n` + Object.entries(r.sha256).map(([f, s]) => `  ${s}  ${f}`).join("\n"));
      else console.log(`NOT reproducible: ${text}\n` + r.differences.map((d) => `  ${d}`).join("\n"));
      if (!r.identical) process.exitCode = 1;
    });
}
