import type { Command } from "commander";
import { formatSize } from "../../model/size.ts";
import { loadLayout, resolveLayout } from "../../model/layout.ts";
import { layoutFileOf, osNames } from "../../model/target.ts";
import { printJson, table } from "../output.ts";
import { parseScale } from "./build.ts";

export function register(program: Command): void {
  const layout = program.command("layout").description("validate and show the partition layouts of the OS definitions");

  layout
    .command("check")
    .description("validate layout files (default: every OS under ic-os/); exit 2 with every problem listed")
    .argument("[os-or-file...]", "OS names (folders of ic-os/, e.g. guestos) or paths to layout.yaml files")
    .addHelpText("after", "\nExample:\n  $ icos layout check\n  $ icos layout check guestos ./my-layout.yaml")
    .action((targets: string[]) => {
      const files = (targets.length ? targets : osNames()).map((t) => layoutFileOf(t));
      for (const file of files) {
        const resolved = resolveLayout(loadLayout(file));
        console.log(`ok  ${file}: ${resolved.partitions.length} partitions, disk ${formatSize(resolved.sizeBytes)}`);
      }
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
