import type { Command } from "commander";
import { inputFile } from "../../user-files.ts";
import { resolveArtifact } from "../../model/target.ts";
import { UserError } from "../../errors.ts";
import { parseSshAddress } from "../../upgrade/ssh.ts";
import { INSTALL_STALL_MS, upgrade } from "../../upgrade/upgrade.ts";
import { printJson } from "../output.ts";
import { addOutputDirFlag } from "./output-dir.ts";

interface UpgradeFlags {
  to: string;
  ssh: string;
  user: string;
  identity?: string;
  knownHosts?: string;
  trustOnFirstUse?: boolean;
  timeout: string;
  installTimeout?: string;
  stallTimeout: string;
  allowDowngrade?: boolean;
  json?: boolean;
  outputDir?: string;
}

function wholeSeconds(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${flag}: expected whole seconds, got "${text}"`);
  return n;
}

export function register(program: Command): void {
  addOutputDirFlag(
    program
      .command("upgrade")
      .description(
        "upgrade a running device in place over ssh: install an update image into its other A/B slot (manageboot.sh upgrade-install), " +
          "commit and reboot, then wait until that slot is up and confirmed; exit 1 if it was refused, failed or rolled back",
      )
      .requiredOption(
        "--to <update-img>",
        "an update-img.tar.zst (or update-img-test.tar.zst) from `icos build`, or a target such as guestos/dev or an output directory (their update-img.tar.zst)",
      )
      .requiredOption("--ssh <host:port>", "the device's ssh address, e.g. 127.0.0.1:2222 (the port `icos run` forwards)")
      .option("--user <name>", "ssh user; it runs `sudo /opt/ic/bin/manageboot.sh`", "admin")
      .option("-i, --identity <key>", "ssh private key (default: ssh's own choice)")
      .option("--known-hosts <file>", "check the device's ssh host key against this file only (default: your own known_hosts; strict either way: an unknown key is an error)")
      .option("--trust-on-first-use", "accept whatever host key the device shows first (its fingerprint is printed) and require it for the rest of the command")
      .option("--timeout <seconds>", "how long the reboot into the new slot may take until it confirms", "600")
      .option("--install-timeout <seconds>", "give up on upgrade-install after this long in all (default: 1800, or 1 s per MiB of the unpacked image if more)")
      .option("--stall-timeout <seconds>", "give up on upgrade-install when the device reports no progress and takes no image bytes for this long", String(INSTALL_STALL_MS / 1000))
      .option("--allow-downgrade", "let the device install a version older than the one it runs (it refuses by default)")
      .option("--json", "print { device, from, to, sha256, seconds } as JSON"),
    "where to look for a target's update-img.tar.zst",
  )
    .addHelpText(
      "after",
      "\nExample:\n  $ icos upgrade --to out/guestos/dev/update-img-test.tar.zst --ssh 127.0.0.1:2222 -i ~/.ssh/id_ed25519\n" +
        "  $ icos upgrade --to guestos/dev --output-dir /tmp/v2 --ssh 127.0.0.1:2222    # /tmp/v2/guestos/dev/update-img.tar.zst\n" +
        "\nThe device needs the upgrade component (GuestOS has it) and an ssh key for --user on its config media." +
        "\nIts host key must be in your known_hosts (or --known-hosts FILE): check its fingerprint on the device's console, then" +
        "\n  $ ssh-keyscan -p 2222 127.0.0.1 >> ~/.ssh/known_hosts",
    )
    .action(async (flags: UpgradeFlags) => {
      const timeout = wholeSeconds("--timeout", flags.timeout);
      const installTimeout = flags.installTimeout === undefined ? undefined : wholeSeconds("--install-timeout", flags.installTimeout);
      const stallTimeout = wholeSeconds("--stall-timeout", flags.stallTimeout);
      if (flags.knownHosts !== undefined && flags.trustOnFirstUse) throw new UserError("--known-hosts and --trust-on-first-use: give one of them");
      const image = resolveArtifact(flags.to, {
        file: "update-img.tar.zst",
        label: `--to ${flags.to}`,
        what: "an update image file such as out/guestos/dev/update-img-test.tar.zst",
        outputDir: flags.outputDir,
      }).path;
      if (flags.identity !== undefined) inputFile(flags.identity, `--identity ${flags.identity}`, { hint: "give an ssh private key file" });
      if (flags.knownHosts !== undefined) inputFile(flags.knownHosts, `--known-hosts ${flags.knownHosts}`, { hint: "give a known_hosts file" });
      const { host, port } = parseSshAddress(flags.ssh);
      const started = Date.now();
      const clock = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
      const result = await upgrade({
        image,
        ssh: { host, port, user: flags.user, identity: flags.identity, hostKeys: flags.knownHosts !== undefined ? { knownHosts: flags.knownHosts } : flags.trustOnFirstUse ? "trust-on-first-use" : "user-known-hosts" },
        timeoutMs: timeout * 1000,
        installTimeoutMs: installTimeout === undefined ? undefined : installTimeout * 1000,
        installStallMs: stallTimeout * 1000,
        allowDowngrade: !!flags.allowDowngrade,
        onProgress: flags.json ? undefined : (line) => console.error(`${clock()} ${line}`),
        onWarning: (line) => console.error(line),
      });
      if (flags.json) printJson(result);
      else console.log(`upgraded ${result.device}: ${result.from.version} (slot ${result.from.slot}) -> ${result.to.version} (slot ${result.to.slot}) in ${(result.seconds.install + result.seconds.reboot).toFixed(0)} s`);
    });
}
