import type { Command } from "commander";
import { build, type BuildOptions } from "../../build/pipeline.ts";
import { UserError } from "../../errors.ts";
import { parseTarget } from "../../model/target.ts";
import { printJson } from "../output.ts";

export function parseScale(text: string | undefined): number {
  if (text === undefined) return 1;
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const value = m ? Number(m[1]) / Number(m[2]) : Number(text);
  if (!(value > 0 && value <= 1)) throw new UserError(`--scale: expected a factor in (0, 1] such as 1/64, got ${text}`);
  return value;
}

/** The flags every command that builds takes (build, verify). */
export interface BuildFlags {
  scale?: string;
  fillB?: boolean;
  version: string;
  json?: boolean;
}

export function addBuildFlags(command: Command): Command {
  return command
    .option("--scale <factor>", "scale partition sizes down, e.g. 1/64 (tests); default: the real IC-OS sizes")
    .option("--fill-b", "also write the B partition set (for tests)")
    .option("--version <version>", "the image version (version.txt, VERSION.TXT)", "0.0.0")
    .option("--json", "print the result as JSON");
}

export function buildOptionsOf(flags: BuildFlags): BuildOptions {
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(flags.version)) {
    throw new UserError(`--version: expected letters, digits, '.', '_', '+' or '-', got ${JSON.stringify(flags.version)}`);
  }
  return { scale: parseScale(flags.scale), fillB: !!flags.fillB, version: flags.version, quiet: !!flags.json };
}

export function register(program: Command): void {
  addBuildFlags(
    program
      .command("build")
      .description("build an image (<os>/<variant>) into out/<os>/<variant>/: disk.img, archives, SHA256SUMS, manifest.json")
      .argument("<target>", "e.g. guestos/dev, guestos/prod"),
  )
    .addHelpText("after", "\nExample:\n  $ icos build guestos/dev\n  $ icos build guestos/prod --scale 1/64 --json")
    .action(async (text: string, flags: BuildFlags) => {
      const options = buildOptionsOf(flags);
      const r = await build(parseTarget(text), options);
      if (flags.json) printJson({ outDir: r.outDir, manifest: r.manifest, stages: r.stages });
    });
}
