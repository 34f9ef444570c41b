import type { Command } from "commander";
import { existsSync } from "node:fs";
import { UserError } from "../../errors.ts";
import { formatInspectTable, inspectDisk } from "../../image/inspect.ts";
import { printJson } from "../output.ts";

export function register(program: Command): void {
  program
    .command("inspect")
    .description("list a disk image's GPT partitions and the filesystem (type, label, UUID) in each")
    .argument("<disk.img>", "a raw disk image with a GPT")
    .option("--json", "print the result as JSON")
    .addHelpText("after", "\nExample:\n  $ icos inspect out/guestos/dev/disk.img\n  $ icos inspect disk.img --json")
    .action(async (disk: string, opts: { json?: boolean }) => {
      if (!existsSync(disk)) throw new UserError(`${disk}: no such file`);
      const result = await inspectDisk(disk);
      if (opts.json) printJson(result);
      else console.log(formatInspectTable(result));
    });
}
