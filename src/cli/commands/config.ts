import type { Command } from "commander";
import { writeFile } from "node:fs/promises";
import { guestHostname, guestIpv6, guestMac } from "../../config/derive.ts";
import { CONFIG_MEDIA, writeConfigMedia } from "../../config/media.ts";
import { CONFIG_VERSION, configJsonSchema } from "../../config/schema.ts";
import { readConfigFile } from "../../config/versions.ts";
import { writeAtomically } from "../../image/files.ts";
import { outputFile, outputTarget } from "../../user-files.ts";

export function register(program: Command): void {
  const config = program.command("config").description("node configuration: write the GuestOS CONFIG media, print the JSON Schema (docs/config.md)");

  config
    .command("guestos")
    .description("validate a node config (any known version) and its ssh keys, then write the CONFIG media for GuestOS (a vfat image); exit 2 with every problem listed")
    .requiredOption("--config <file>", "node config, JSON (*.json) or YAML")
    .option("--ssh-keys <dir>", "directory of authorized_keys files named admin (required), readonly, backup")
    .requiredOption("--out <file>", "the image to write, e.g. config.img")
    .addHelpText(
      "after",
      "\nExample:\n  $ icos config guestos --config node.json --ssh-keys keys/ --out config.img\n  $ icos run guestos/dev --config-media config.img",
    )
    .action(async (opts: { config: string; sshKeys?: string; out: string }) => {
      outputTarget(opts.out, `--out ${opts.out}`); // writeConfigMedia lists a missing directory with the config's problems
      const r = await writeConfigMedia({ config: readConfigFile(opts.config, `--config ${opts.config}`), configFile: opts.config, sshKeysDir: opts.sshKeys, out: opts.out });
      const migrated = r.fromVersion === CONFIG_VERSION ? "" : `, migrated to ${CONFIG_VERSION}`;
      console.log(`wrote ${opts.out} (vfat ${CONFIG_MEDIA.label}, ${CONFIG_MEDIA.sizeBytes / 2 ** 20} MiB): ${r.files.join(", ")}`);
      console.log(`config: ${opts.config} (version ${r.fromVersion}${migrated})`);
      console.log(`guestos: mac ${guestMac(r.config)}, ipv6 ${guestIpv6(r.config) ?? "from router advertisements"}, hostname ${guestHostname(r.config)}`);
    });

  config
    .command("schema")
    .description(`print the JSON Schema of the node config (version ${CONFIG_VERSION})`)
    .option("--out <file>", "write it to a file instead of stdout")
    .addHelpText("after", "\nExample:\n  $ icos config schema --out docs/config-schema.json")
    .action(async (opts: { out?: string }) => {
      const text = JSON.stringify(configJsonSchema(), null, 2) + "\n";
      if (opts.out === undefined) return void process.stdout.write(text);
      outputFile(opts.out, `--out ${opts.out}`);
      await writeAtomically(opts.out, (tmp) => writeFile(tmp, text));
      console.log(`wrote ${opts.out}`);
    });
}
