// The icos command line: registers every command and owns the only top-level catch, which maps
// the error taxonomy (src/errors.ts) to messages and exit codes (and, with --json, to a JSON
// object on stdout as well).
import { Command, CommanderError, Help, type Option } from "commander";
import { createRequire } from "node:module";
import { echoToolOutput } from "../exec.ts";
import { colorAllowed, describeError, errorText, jsonFieldsOf, printJson, stripEscapes } from "./output.ts";
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
import { register as ps } from "./commands/ps.ts";
import { register as stop } from "./commands/stop.ts";
import { register as ssh } from "./commands/ssh.ts";
import { register as consoleCommand } from "./commands/console.ts";
import { register as status } from "./commands/status.ts";
import { register as rollback } from "./commands/rollback.ts";
import { register as clean } from "./commands/clean.ts";

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

/** Set when a command's action starts: did it get --json? Before that (a usage error) argv decides. */
let jsonRequested: boolean | undefined;

/** Help marks the options a command cannot run without (commander's requiredOption). */
function optionDescription(this: Help, option: Option): string {
  const text = Help.prototype.optionDescription.call(this, option);
  return option.mandatory ? `${text} (required)` : text;
}

export function buildProgram(): Command {
  const program = new Command("icos")
    .description("Build, run, install and upgrade the IC-OS family of operating systems")
    .version(version)
    .option("--verbose", "show what the tools icos runs print (on stderr, each line tagged with the tool)")
    .showHelpAfterError("(run with --help for usage)")
    .enablePositionalOptions()
    .exitOverride()
    .configureHelp({ sortSubcommands: false, optionDescription });
  program.hook("preAction", (_root, action) => {
    const opts = { ...program.opts(), ...action.opts() } as { verbose?: boolean; json?: boolean };
    jsonRequested = opts.json === true;
    if (opts.verbose) echoToolOutput((text) => void process.stderr.write(colorAllowed(process.stderr) ? text : stripEscapes(text)));
  });
  for (const register of [doctor, targets, inspect, layout, base, build, verify, diff, run, ps, ssh, consoleCommand, stop, config, upgrade, status, rollback, clean]) register(program);
  program.addHelpText("after", "\nExamples:\n  $ icos doctor\n  $ icos layout check\n  $ icos inspect out/guestos/dev/disk.img --json\n  $ icos --verbose build guestos/dev");
  return program;
}

/** --json among the arguments (before a `--`), for errors found before any command ran. */
function jsonInArgv(argv: string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes("--json");
}

function report(err: unknown, json: boolean): number {
  if (err instanceof CommanderError && err.exitCode === 0) return 0; // --help, --version
  const r = describeError(err, version);
  // commander has printed its own message already.
  if (!(err instanceof CommanderError)) console.error(errorText(r, colorAllowed(process.stderr)));
  if (json) {
    const { stack: _stack, ...error } = r;
    printJson({ ...jsonFieldsOf(err), error });
  }
  return r.exitCode;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  process.exitCode = report(err, jsonRequested ?? jsonInArgv(process.argv.slice(2)));
}
