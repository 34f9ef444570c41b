import type { Command } from "commander";
import { formatSize } from "../../model/size.ts";
import { loadLayout, resolveLayout } from "../../model/layout.ts";
import { layoutFileOf, osNames } from "../../model/target.ts";
import { UserError } from "../../errors.ts";
import { FormatError } from "../../formats/format-error.ts";
import { colorAllowed, describeError, errorText, printJson, table } from "../output.ts";
import { parseScale } from "./build.ts";

export function register(program: Command): void {
  const layout = program.command("layout").description("validate and show the partition layouts of the OS definitions");

  layout
    .command("check")
    .description("validate layout files (default: every OS under ic-os/); each file is checked, and every problem listed; exit 2 if any failed")
    .argument("[os-or-file...]", "OS names (folders of ic-os/, e.g. guestos) or paths to layout.yaml files")
    .addHelpText("after", "\nExample:\n  $ icos layout check\n  $ icos layout check guestos ./my-layout.yaml")
    .action((targets: string[]) => {
      // Every file is checked and reported, so one run lists all that need fixing.
      const names = targets.length ? targets : osNames();
      let failed = 0;
      for (const name of names) {
        try {
          const file = layoutFileOf(name);
          const resolved = resolveLayout(loadLayout(file));
          console.log(`ok  ${file}: ${resolved.partitions.length} partitions, disk ${formatSize(resolved.sizeBytes)}`);
        } catch (e) {
          // One file: its error is the whole report. Several: each is listed, then a count.
          if (!(e instanceof UserError || e instanceof FormatError) || names.length === 1) throw e;
          failed++;
          console.error(errorText(describeError(e, ""), colorAllowed(process.stderr)));
        }
      }
      if (failed > 0) throw new UserError(`${failed} of ${names.length} layout file${names.length === 1 ? "" : "s"} failed the check (each is listed above)`);
    });

  layout
    .command("show")
    .description("print the resolved partition table of a layout (sectors and bytes)")
    .argument("<os-or-file>", "an OS name (a folder of ic-os/, e.g. guestos) or a layout.yaml")
    .option("--scale <factor>", "scale sizes down as the tests do, e.g. 1/64")
    .option("--json", "print the resolved layout as JSON")
    .addHelpText("after", "\nExample:\n  $ icos layout show guestos\n  $ icos layout show hostos --scale 1/64 --json")
    .action((target: string, opts: { scale?: string; json?: boolean }) => {
      const resolved = resolveLayout(loadLayout(layoutFileOf(target)), { scale: parseScale(opts.scale) });
      if (opts.json) return printJson(resolved);
      const rows = resolved.partitions.map((p) => [
        String(p.index), p.name, p.type, String(p.startLba), String(p.sizeLba), formatSize(p.sizeBytes), p.filesystem ?? "", p.label ?? "", p.contents,
      ]);
      console.log(table(["#", "name", "type", "start", "sectors", "size", "fs", "label", "contents"], rows));
      console.log(`disk: ${formatSize(resolved.sizeBytes)} (${resolved.sizeBytes} bytes)`);
    });
}
