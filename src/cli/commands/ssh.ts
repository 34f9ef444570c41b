import type { Command } from "commander";
import { constants } from "node:os";
import { UserError } from "../../errors.ts";
import { shellQuote, start } from "../../exec.ts";
import { loginArgv } from "../../upgrade/ssh.ts";
import { addDeviceFlags, deviceTarget, type DeviceFlags } from "./device-target.ts";

interface SshFlags extends DeviceFlags {
  print?: boolean;
}

/** What follows `--` on the command line: the remote command (commander hands it over mixed with the operands). */
function remoteCommand(argv: readonly string[]): string[] {
  const at = argv.indexOf("--");
  return at < 0 ? [] : argv.slice(at + 1);
}

export function register(program: Command): void {
  addDeviceFlags(
    program
      .command("ssh")
      .description("ssh into a VM that `icos run` left running, with the key its config media lets in and a known_hosts of that VM alone")
      .argument("[vm]", "a VM as `icos ps` lists it: its name (or a unique start of it), pid or target; default: the one running VM")
      .argument("[command...]", "after --: the command to run on the VM instead of a login shell")
      .option("--print", "print the ssh command instead of running it (to reuse its options with scp or rsync -e)"),
    { ssh: false },
  )
    .addHelpText(
      "after",
      "\nExample:\n  $ icos ssh                                   # log in to the one running VM as admin\n" +
        "  $ icos ssh guestos/dev -- sudo /opt/ic/bin/manageboot.sh status\n  $ icos ssh --print\n" +
        "\nThe VM's host key is learnt on first contact and kept in <work dir>/known_hosts (never in ~/.ssh/known_hosts)." +
        "\nThe exit code is the remote command's (255: ssh itself failed).",
    )
    .action(async (_vm: string | undefined, _command: string[], flags: SshFlags, cmd: Command) => {
      const remote = remoteCommand(process.argv);
      // Operands before `--` name the VM: at most one.
      const operands = cmd.args.slice(0, cmd.args.length - remote.length);
      if (operands.length > 1) throw new UserError(`unexpected argument "${operands[1]}" after the VM "${operands[0]}"`, "put the remote command after --: icos ssh [vm] -- COMMAND...");
      const device = await deviceTarget(operands[0], flags);
      const argv = loginArgv(device.ssh, remote);
      if (flags.print) return console.log(shellQuote(["ssh", ...argv]));
      // The terminal is ssh's until it exits: a Ctrl-C is for the remote side (or ends ssh itself).
      const ignore = () => undefined;
      process.on("SIGINT", ignore);
      try {
        const child = await start("ssh", argv, { stdio: "inherit" });
        const code = await new Promise<number>((resolve) => child.once("exit", (c, signal) => resolve(c ?? 128 + (signal ? constants.signals[signal] : 0))));
        if (code === 255 && device.noKey) console.error(`icos ssh: ssh failed; no key was chosen: ${device.noKey}\n  hint: pass -i KEY (the private key whose .pub went into the config media)`);
        process.exitCode = code;
      } finally {
        process.off("SIGINT", ignore);
      }
    });
}
