import type { Command } from "commander";
import { UserError } from "../../errors.ts";
import { rollback } from "../../upgrade/device-status.ts";
import { printJson } from "../output.ts";
import { addDeviceFlags, deviceTarget, type DeviceFlags } from "./device-target.ts";

interface RollbackFlags extends DeviceFlags {
  wait: boolean;
  timeout: string;
  json?: boolean;
}

export function register(program: Command): void {
  addDeviceFlags(
    program
      .command("rollback")
      .description(
        "make a device go back to its other A/B slot (manageboot.sh rollback): that slot boots once and stays only if it confirms itself, " +
          "else the device returns to the running one; waits until it is back, confirmed",
      )
      .argument("[vm]", "a VM that `icos run` left running, as `icos ps` lists it (default: the one running VM, unless --ssh)")
      .option("--no-wait", "return once the device reboots, without waiting for the other slot to confirm")
      .option("--timeout <seconds>", "how long the reboot into the other slot may take until it confirms", "600")
      .option("--json", "print { device, from, to, confirmed, seconds } as JSON"),
    { ssh: true },
  )
    .addHelpText(
      "after",
      "\nExample:\n  $ icos rollback                        # the one VM from `icos run --keep`\n" +
        "  $ icos rollback --ssh 192.0.2.10 -i ~/.ssh/id_admin --json\n" +
        "\nThe device must run a confirmed system and its other slot a system to go back to (an earlier upgrade's);" +
        "\nit refuses otherwise, and exit is 1. Exit 1 too if the other slot never confirms (the device returns).",
    )
    .action(async (vm: string | undefined, flags: RollbackFlags) => {
      const seconds = Number(flags.timeout);
      if (!Number.isInteger(seconds) || seconds < 1) throw new UserError(`--timeout: expected whole seconds, got "${flags.timeout}"`);
      const target = await deviceTarget(vm, flags);
      const started = Date.now();
      const clock = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
      const r = await rollback({ ssh: target.ssh, wait: flags.wait, timeoutMs: seconds * 1000, onProgress: flags.json ? undefined : (line) => console.error(`${clock()} ${line}`) });
      if (flags.json) return printJson(r);
      if (r.confirmed) console.log(`rolled back ${r.device}: ${r.from.version} (slot ${r.from.slot}) -> ${r.to.version} (slot ${r.to.slot}) in ${r.seconds.toFixed(0)} s`);
      else console.log(`${r.device} reboots into slot ${r.to.slot} (version ${r.to.version}); it stays only if it confirms (\`icos status\` shows it)`);
    });
}
