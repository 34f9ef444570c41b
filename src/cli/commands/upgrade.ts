import type { Command } from "commander";
import { existsSync } from "node:fs";
import { UserError } from "../../errors.ts";
import { parseSshAddress } from "../../upgrade/ssh.ts";
import { upgrade } from "../../upgrade/upgrade.ts";
import { printJson } from "../output.ts";

interface UpgradeFlags {
  to: string;
  ssh: string;
  user: string;
  identity?: string;
  knownHosts?: string;
  timeout: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("upgrade")
    .description(
      "upgrade a running device in place over ssh: install an update image into its other A/B slot (manageboot.sh upgrade-install), " +
        "commit and reboot, then wait until that slot is up and confirmed; exit 1 if it was refused, failed or rolled back",
    )
    .requiredOption("--to <update-img>", "an update-img.tar.zst (or update-img-test.tar.zst) from `icos build`")
    .requiredOption("--ssh <host:port>", "the device's ssh address, e.g. 127.0.0.1:2222 (the port `icos run` forwards)")
    .option("--user <name>", "ssh user; it runs `sudo /opt/ic/bin/manageboot.sh`", "admin")
    .option("-i, --identity <key>", "ssh private key (default: ssh's own choice)")
    .option("--known-hosts <file>", "check the device's host key against this file (default: trust the first key seen, then require the same key after the reboot)")
    .option("--timeout <seconds>", "how long the reboot into the new slot may take until it confirms", "600")
    .option("--json", "print { device, from, to, sha256, seconds } as JSON")
    .addHelpText(
      "after",
      "\nExample:\n  $ icos upgrade --to out/guestos/dev/update-img-test.tar.zst --ssh 127.0.0.1:2222 -i ~/.ssh/id_ed25519\n" +
        "\nThe device needs the upgrade component (GuestOS has it) and an ssh key for --user on its config media.",
    )
    .action(async (flags: UpgradeFlags) => {
      const timeout = Number(flags.timeout);
      if (!Number.isInteger(timeout) || timeout < 1) throw new UserError(`--timeout: expected whole seconds, got "${flags.timeout}"`);
      if (flags.identity !== undefined && !existsSync(flags.identity)) throw new UserError(`--identity ${flags.identity}: no such file`);
      if (flags.knownHosts !== undefined && !existsSync(flags.knownHosts)) throw new UserError(`--known-hosts ${flags.knownHosts}: no such file`);
      const { host, port } = parseSshAddress(flags.ssh);
      const started = Date.now();
      const clock = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
      const result = await upgrade({
        image: flags.to,
        ssh: { host, port, user: flags.user, identity: flags.identity, knownHosts: flags.knownHosts },
        timeoutMs: timeout * 1000,
        onProgress: flags.json ? undefined : (line) => console.error(`${clock()} ${line}`),
      });
      if (flags.json) printJson(result);
      else console.log(`upgraded ${result.device}: ${result.from.version} (slot ${result.from.slot}) -> ${result.to.version} (slot ${result.to.slot}) in ${(result.seconds.install + result.seconds.reboot).toFixed(0)} s`);
    });
}
