import type { Command } from "commander";
import { UserError } from "../../errors.ts";
import { findVm, listVms, type VmRecord } from "../../vm/registry.ts";
import { stopVm, type StopVmResult } from "../../vm/stop-vm.ts";
import { printJson } from "../output.ts";

interface StopFlags {
  all?: boolean;
  timeout: string;
  force?: boolean;
  json?: boolean;
}

const HOW: Record<StopVmResult["how"], string> = {
  powerdown: "the guest powered off",
  sigterm: "QEMU stopped on SIGTERM",
  sigkill: "QEMU killed (SIGKILL)",
  gone: "it had already exited",
};

export function register(program: Command): void {
  program
    .command("stop")
    .description("stop VMs that `icos run` left running: ask the guest to power off (ACPI), then SIGTERM, then SIGKILL, each bounded")
    .argument("[vm]", "a VM as `icos ps` lists it: its name (or a unique start of it), pid or target; default: the one running VM")
    .option("--all", "stop every running VM")
    .option("--timeout <seconds>", "how long the guest may take to power off before QEMU gets SIGTERM", "60")
    .option("--force", "skip the powerdown: SIGTERM at once (SIGKILL 5 s later)")
    .option("--json", "print [{ name, pid, how, seconds }] as JSON (how: powerdown, sigterm, sigkill, gone)")
    .addHelpText("after", "\nExample:\n  $ icos stop guestos-dev-Xy12Ab\n  $ icos stop --all --force")
    .action(async (arg: string | undefined, flags: StopFlags) => {
      const seconds = Number(flags.timeout);
      if (!Number.isInteger(seconds) || seconds < 0 || seconds > 3600) throw new UserError(`--timeout: expected whole seconds from 0 to 3600, got "${flags.timeout}"`);
      if (flags.all && arg !== undefined) throw new UserError(`--all and a VM ("${arg}"): give one of them`);
      let vms: VmRecord[];
      if (flags.all) vms = listVms();
      else vms = [findVm(arg, process.env, "one to stop (or --all)")];
      const note = flags.json ? undefined : (line: string) => console.error(line);
      // One at a time: each is bounded, and the output stays in order.
      const results: StopVmResult[] = [];
      for (const vm of vms) {
        const r = await stopVm(vm, { powerdownMs: flags.force ? 0 : seconds * 1000, note });
        results.push(r);
        if (!flags.json) console.log(`stopped ${r.name} (pid ${r.pid}): ${HOW[r.how]} after ${r.seconds.toFixed(1)} s`);
      }
      if (flags.json) printJson(results);
      else if (vms.length === 0) console.log("no VMs running");
    });
}
