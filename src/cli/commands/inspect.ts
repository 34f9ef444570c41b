import type { Command } from "commander";
import { formatInspectTable, inspectDisk } from "../../image/inspect.ts";
import { resolveArtifact } from "../../model/target.ts";
import { printJson } from "../output.ts";
import { addOutputDirFlag } from "./output-dir.ts";

export function register(program: Command): void {
  addOutputDirFlag(
    program
      .command("inspect")
      .description("list a disk image's GPT partitions and the filesystem (type, label, UUID) in each")
      .argument("<disk>", "a raw disk image with a GPT, a target such as guestos/dev (its disk.img) or an output directory of `icos build`")
      .option("--json", "print the result as JSON"),
    "where to look for a target's disk.img",
  )
    .addHelpText("after", "\nExample:\n  $ icos inspect guestos/dev\n  $ icos inspect out/guestos/dev/disk.img --json")
    .action(async (arg: string, opts: { json?: boolean; outputDir?: string }) => {
      // A regular file: a FIFO would hang the read, and a block device reports size 0 (lsblk and sgdisk read those).
      const { path } = resolveArtifact(arg, { file: "disk.img", what: "a disk image file (for a block device: sgdisk -p DEV, lsblk -f DEV)", outputDir: opts.outputDir });
      const result = await inspectDisk(path);
      if (opts.json) printJson(result);
      else console.log(formatInspectTable(result));
    });
}
