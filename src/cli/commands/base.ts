import type { Command } from "commander";
import { openStore } from "../../build/cache.ts";
import { Progress } from "../../build/progress.ts";
import { exportBases, importBase } from "../../build/base-transfer.ts";
import { updateBases } from "../../build/bases.ts";
import { loadOsNamed } from "../../model/target.ts";
import { inputFile, outputDirectory } from "../../user-files.ts";
import { printJson } from "../output.ts";

const os = (name: string) => loadOsNamed(name);

export function register(program: Command): void {
  const base = program.command("base").description("manage the pinned base images (Dockerfile.base output) of an OS");

  base
    .command("update")
    .description("rebuild an OS's base images from the archive and pin them in ic-os/<os>/base.lock.json")
    .argument("<os>", "an OS with an os.yaml, e.g. guestos (`icos targets` lists them)")
    .option("--if-missing", "only build flavours whose pin is missing, stale or not in local storage")
    .option("--json", "print the pins as JSON")
    .addHelpText("after", "\nExample:\n  $ icos base update guestos\n  $ icos base update guestos --if-missing")
    .action(async (name: string, opts: { ifMissing?: boolean; json?: boolean }) => {
      const { store, release } = openStore();
      try {
        const pins = await updateBases(store, os(name), new Progress(opts.json), { onlyMissing: opts.ifMissing });
        if (opts.json) printJson(pins);
        else for (const [flavour, pin] of Object.entries(pins)) console.log(`${name}/${flavour}: ${pin.image}`);
      } finally {
        release();
      }
    });

  base
    .command("export")
    .description("write an OS's pinned base images as OCI archives, to reproduce its images on another machine")
    .argument("<os>", "an OS with an os.yaml, e.g. guestos (`icos targets` lists them)")
    .requiredOption("--out <dir>", "directory for <os>-base-<flavour>.oci.tar files")
    .addHelpText("after", "\nExample:\n  $ icos base export guestos --out /tmp/bases")
    .action(async (name: string, opts: { out: string }) => {
      outputDirectory(opts.out, `--out ${opts.out}`, "--out names a directory for the .oci.tar files (created if missing)");
      for (const file of await exportBases(os(name), opts.out)) console.log(file);
    });

  base
    .command("import")
    .description("load a base image exported by `icos base export`; it must match a pin in the lock file")
    .argument("<file>", "an <os>-base-<flavour>.oci.tar file")
    .addHelpText("after", "\nExample:\n  $ icos base import /tmp/bases/guestos-base-dev.oci.tar")
    .action(async (file: string) => {
      inputFile(file, file, { hint: "give an <os>-base-<flavour>.oci.tar file from `icos base export`" });
      console.log(await importBase(file));
    });
}
