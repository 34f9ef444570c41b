import type { Command } from "commander";
import { accessSync, constants } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { guestHostname, guestIpv6, guestMac } from "../../config/derive.ts";
import { CONFIG_MEDIA, mediaRules, writeConfigMedia } from "../../config/media.ts";
import { CONFIG_VERSION, configJsonSchema } from "../../config/schema.ts";
import { readConfigFile } from "../../config/versions.ts";
import { writeAtomically } from "../../fs/files.ts";
import { UserError } from "../../errors.ts";
import { outputFile } from "../../user-files.ts";

export function register(program: Command): void {
  const config = program.command("config").description("node configuration: write the GuestOS CONFIG media, print the JSON Schema (docs/config.md)");

  config
    .command("guestos")
    .description("validate a node config (any known version) and its ssh keys, then write the CONFIG media for GuestOS (a vfat image); exit 2 with every problem listed")
    .requiredOption("--config <file>", "node config, JSON (*.json) or YAML")
    .option("--ssh-keys <dir>", "directory of authorized_keys files named admin (which must be there), readonly and backup")
    .option("--node-operator-key <file>", "the node operator's private key (PEM), when icos_settings.use_node_operator_private_key is true")
    .requiredOption("--out <file>", "the image to write, e.g. config.img")
    .addHelpText(
      "after",
      "\nExample:\n  $ icos config guestos --config node.json --ssh-keys keys/ --out config.img\n  $ icos run guestos/dev --config-media config.img",
    )
    .action(async (opts: { config: string; sshKeys?: string; nodeOperatorKey?: string; out: string }) => {
      // --out first: a bad output path is the flag's problem, not the config file's.
      checkOut(opts.out);
      const r = await writeConfigMedia({
        config: readConfigFile(opts.config, `--config ${opts.config}`),
        configFile: opts.config,
        sshKeysDir: opts.sshKeys,
        nodeOperatorKey: opts.nodeOperatorKey,
        out: opts.out,
      });
      const migrated = r.fromVersion === CONFIG_VERSION ? "" : `, migrated to ${CONFIG_VERSION}`;
      console.log(`wrote ${opts.out} (vfat ${CONFIG_MEDIA.label}, ${CONFIG_MEDIA.sizeBytes / 2 ** 20} MiB): ${r.files.join(", ")}`);
      console.log(`config: ${opts.config} (version ${r.fromVersion}${migrated})`);
      console.log(`guestos: mac ${guestMac(r.config)}, ipv6 ${guestIpv6(r.config) ?? "from router advertisements"}, hostname ${guestHostname(r.config)}`);
    });

  config
    .command("schema")
    .description(`print the JSON Schema of the node config (version ${CONFIG_VERSION})`)
    .option("--out <file>", "write it to a file instead of stdout")
    .addHelpText("after", `\nExample:\n  $ icos config schema --out ${DEVICE_RULES}/config-schema.json`)
    .action((opts: { out?: string }) => printOrWrite(configJsonSchema(), opts.out));

  config
    .command("media-rules")
    .description("print the CONFIG media rules the device checks besides the schema (files, ssh key types, size and depth bounds)")
    .option("--out <file>", "write them to a file instead of stdout")
    .addHelpText("after", `\nExample:\n  $ icos config media-rules --out ${DEVICE_RULES}/config-media.json`)
    .action((opts: { out?: string }) => printOrWrite(mediaRules(), opts.out));
}

/** Where the device validator's rule files live in the repository (rendered by the two commands above). */
const DEVICE_RULES = "ic-os/components/config-injection/opt/ic/share";

const WRITE_PROBLEMS: Record<string, string> = { EACCES: "permission denied", EPERM: "permission denied", EROFS: "a read-only file system", ENOSPC: "no space left", ENOENT: "cannot create files there" };

/**
 * --out names a file icos may write: not empty, a regular file or new, in an existing directory
 * this process may write to (the output is made beside it, then renamed over it).
 */
function checkOut(out: string): void {
  if (out === "") throw new UserError("--out: the path is empty", "name the file to write, e.g. --out config.img");
  outputFile(out, `--out ${out}`);
  try {
    accessSync(dirname(out), constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    throw new UserError(`--out ${out}: cannot write in ${dirname(out)}: ${WRITE_PROBLEMS[code] ?? code}`, "name a file in a directory you may write to");
  }
}

async function printOrWrite(value: unknown, out: string | undefined): Promise<void> {
  const text = JSON.stringify(value, null, 2) + "\n";
  if (out === undefined) return void process.stdout.write(text);
  checkOut(out);
  try {
    await writeAtomically(out, (tmp) => writeFile(tmp, text));
  } catch (e) {
    // What the checks cannot foresee: /proc, a full disk, a directory made read-only meanwhile.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined || !(code in WRITE_PROBLEMS)) throw e;
    throw new UserError(`--out ${out}: cannot write it: ${WRITE_PROBLEMS[code]} (${code})`, "name a file in a directory you may write to");
  }
  console.log(`wrote ${out}`);
}
