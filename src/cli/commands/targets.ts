import type { Command } from "commander";
import { targetStatuses, type OsStatus } from "../../build/target-status.ts";
import { printJson, table } from "../output.ts";
import { addOutputDirFlag } from "./output-dir.ts";

function format(oses: OsStatus[]): string {
  const rows: string[][] = [];
  for (const os of oses) {
    if (os.reason !== null) rows.push([os.name, os.kind ?? "-", "-", "no", "-", os.reason.split("\n")[0]!]);
    for (const t of os.targets) rows.push([t.target, os.kind ?? "-", t.base, t.buildable ? "yes" : "no", t.built ? "yes" : "no", t.reason ?? ""]);
  }
  const hints = [...new Set(oses.flatMap((os) => [os.hint, ...os.targets.map((t) => t.hint)]).filter((h): h is string => h !== null))];
  return table(["target", "kind", "base", "buildable", "built", "why not"], rows) + (hints.length ? "\n\nhints:\n" + hints.map((h) => `  ${h}`).join("\n") : "");
}

export function register(program: Command): void {
  addOutputDirFlag(
    program
      .command("targets")
      .description("list the OSes under ic-os/, their kind and variants, and whether each target can be built now (and if not, why)")
      .option("--json", "print [{ name, kind, variants, reason, targets: [{ target, base, buildable, reason, hint, outDir, built }] }] as JSON"),
    "where to look for built targets (the built column)",
  )
    .addHelpText("after", "\nExample:\n  $ icos targets\n  $ icos targets --json | jq -r '.[].targets[] | select(.buildable) | .target'")
    .action(async (opts: { json?: boolean; outputDir?: string }) => {
      const oses = await targetStatuses({ outputDir: opts.outputDir });
      if (opts.json) printJson(oses);
      else console.log(format(oses));
    });
}
