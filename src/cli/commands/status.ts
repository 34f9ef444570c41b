import type { Command } from "commander";
import { deviceStatus, describeStatus } from "../../upgrade/device-status.ts";
import { printJson } from "../output.ts";
import { addDeviceFlags, deviceTarget, type DeviceFlags } from "./device-target.ts";

export function register(program: Command): void {
  addDeviceFlags(
    program
      .command("status")
      .description("a device's A/B state over ssh (manageboot.sh status): the running slot and version, boot_cycle, whether it is confirmed, what boots next")
      .argument("[vm]", "a VM that `icos run` left running, as `icos ps` lists it (default: the one running VM, unless --ssh)")
      .option("--json", "print { device, bootId, slot, version, bootCycle, bootAlternative, next, confirmed, state, slots } as JSON"),
    { ssh: true },
  )
    .addHelpText(
      "after",
      "\nExample:\n  $ icos status                                  # the one VM from `icos run --keep`\n" +
        "  $ icos status --ssh 192.0.2.10 -i ~/.ssh/id_admin --json\n" +
        "\nstate: confirmed, installed (confirmed; the other slot holds an upgrade not committed), on-trial (first boot" +
        "\nof an upgrade or rollback, not confirmed yet) or pending (the next boot runs the other slot once).",
    )
    .action(async (vm: string | undefined, flags: DeviceFlags & { json?: boolean }) => {
      const target = await deviceTarget(vm, flags);
      const s = await deviceStatus(target.ssh);
      if (flags.json) return printJson(s);
      console.log(`${s.device}: ${describeStatus(s)}`);
      console.log(`  grubenv: boot_alternative=${s.bootAlternative} boot_cycle=${s.bootCycle}; next boot: slot ${s.next}`);
      console.log(`  slot A: ${s.slots.A.version}${s.slot === "A" ? " (running)" : ""}`);
      console.log(`  slot B: ${s.slots.B.version}${s.slot === "B" ? " (running)" : ""}`);
    });
}
