// The --output-dir flag of build, verify, run, inspect, upgrade, diff and targets: the output root that
// replaces $ICOS_OUT_DIR (default <repo>/out); a target's files are in DIR/<os>/<variant>/.
import type { Command } from "commander";

export function addOutputDirFlag(command: Command, what: string): Command {
  return command.option("--output-dir <dir>", `${what}: DIR/<os>/<variant>/ (default: $ICOS_OUT_DIR, else out/ in the repository)`);
}
