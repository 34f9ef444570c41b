import type { Command } from "commander";
import { attachConsole, ESCAPE_NAME, openConsole } from "../../vm/console-attach.ts";
import { findVm } from "../../vm/registry.ts";

export function register(program: Command): void {
  program
    .command("console")
    .description(`attach to the serial console of a VM that \`icos run\` left running (raw terminal, byte for byte); ${ESCAPE_NAME} detaches`)
    .argument("[vm]", "a VM as `icos ps` lists it: its name (or a unique start of it), pid or target; default: the one running VM")
    .addHelpText(
      "after",
      `\nExample:\n  $ icos console            # the one running VM; press Enter for a login prompt, ${ESCAPE_NAME} to detach\n  $ icos console guestos/dev\n` +
        "\nQEMU serves one console client at a time: while another one is connected, nothing appears here." +
        "\nEverything the console printed, before and after, is in the VM's serial.log (`icos ps`).",
    )
    .action(async (arg: string | undefined) => {
      const vm = findVm(arg, process.env, "console");
      const sock = await openConsole(vm.serialSocket, vm.name);
      console.error(`connected to the serial console of ${vm.name} (${vm.target ?? vm.disk}); ${ESCAPE_NAME} detaches`);
      const end = await attachConsole(sock, { input: process.stdin, output: process.stdout, vmName: vm.name });
      process.stdin.destroy(); // a paused pipe still holds the event loop
      console.error(end === "detached" ? `\r\ndetached from ${vm.name} (it keeps running)` : `\r\nthe console of ${vm.name} closed: the VM stopped`);
    });
}
