import type { Command } from "commander";
import { formatInspectTable, inspectDisk } from "../../image/inspect.ts";
import { inputFile } from "../../user-files.ts";
import { printJson } from "../output.ts";

export function register(program: Command): void {
  program
    .command("inspect")
    .description("list a disk image's GPT partitions and the filesystem (type, label, UUID) in each")
    .argument("<disk.img>", "a raw disk image with a GPT")
    .option("--json", "print the result as JSON")
    .addHelpText("after", "\nExample:\n  $ icos inspect out/guestos/dev/disk.img\n  $ icos inspect disk.img --json")
    .action(async (disk: string, opts: { json?: boolean }) => {
      // A regular file: a FIFO would hang the read, and a block device reports size 0 (lsblk and sgdisk read those).
      inputFile(disk, disk, { hint: "give a disk image file such as out/guestos/dev/disk.img (for a block device: sgdisk -p DEV, lsblk -f DEV)" });
      const result = await inspectDisk(disk);
      if (opts.json) printJson(result);
      else console.log(formatInspectTable(result));
    });
}
