// The icos command line: registers every command and owns the only top-level catch, which maps
// the error taxonomy (src/errors.ts) to messages and exit codes.
import { Command, CommanderError } from "commander";
import { createRequire } from "node:module";
import { ToolFailedError, UserError } from "../errors.ts";
import { FormatError } from "../formats/format-error.ts";
import { register as doctor } from "./commands/doctor.ts";
import { register as inspect } from "./commands/inspect.ts";
import { register as layout } from "./commands/layout.ts";
import { register as base } from "./commands/base.ts";
import { register as build } from "./commands/build.ts";
import { register as verify } from "./commands/verify.ts";
import { register as run } from "./commands/run.ts";
import { register as config } from "./commands/config.ts";
import { register as upgrade } from "./commands/upgrade.ts";
import { register as targets } from "./commands/targets.ts";
import { register as diff } from "./commands/diff.ts";

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

export function buildProgram(): Command {
  const program = new Command("icos")
    .description("Build, run, install and upgrade the IC-OS family of operating systems")
    .version(version)
    .showHelpAfterError("(run with --help for usage)")
    .enablePositionalOptions()
    .exitOverride()
    .configureHelp({ sortSubcommands: false });
  for (const register of [doctor, targets, inspect, layout, base, build, verify, diff, run, config, upgrade]) register(program);
  program.addHelpText("after", "\nExamples:\n  $ icos doctor\n  $ icos layout check\n  $ icos inspect out/guestos/dev/disk.img --json");
  return program;
}

function report(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  if (err instanceof UserError) {
    console.error(`error: ${err.message}` + (err.hint ? `\n  hint: ${err.hint}` : ""));
    return err.exitCode;
  }
  if (err instanceof ToolFailedError) {
    console.error(`error: ${err.message}`);
    return err.exitCode;
  }
  if (err instanceof FormatError) {
    console.error(`error: ${err.message}`);
    return 2;
  }
  console.error(`internal error in icos ${version} (this is a bug, please report it):`);
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  return 70;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  process.exitCode = report(err);
}
