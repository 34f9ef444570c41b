// VmError: the guest did not get where icos waited for it to get. One class for every way a boot
// fails (timeout, panic, failed boot, QEMU gone or stuck), with the console's and QEMU's last lines.
import { ToolFailedError } from "../errors.ts";

export type VmFailure = "timeout" | "panic" | "not-ready" | "exited" | "qemu-error" | "paused";

/** Where a failed VM's evidence is, for the message. */
export interface VmErrorContext {
  disk: string;
  serialLog: string;
  qemuLog: string;
  workDir: string;
  /** The QEMU command, shell-quoted. */
  command: string;
}

/** The guest did not get where we waited for it to get. Exit code 1, like a failed tool. */
export class VmError extends ToolFailedError {
  constructor(
    readonly kind: VmFailure,
    summary: string,
    readonly serialTail: string,
    readonly qemuLogTail: string,
    vm: VmErrorContext,
  ) {
    super(vm.command, summary, serialTail, `boot of ${vm.disk}`);
    this.name = "VmError";
    const indent = (text: string): string => "    " + text.split("\n").join("\n    ");
    const parts = [`boot of ${vm.disk}: ${summary}`];
    parts.push(serialTail ? `  serial console (last lines of ${vm.serialLog}):\n${indent(serialTail)}` : `  nothing on the serial console (${vm.serialLog})`);
    if (kind === "exited" || kind === "qemu-error") {
      if (qemuLogTail) parts.push(`  QEMU output (last lines of ${vm.qemuLog}):\n${indent(qemuLogTail)}`);
      parts.push(`  command (run in ${vm.workDir}): ${vm.command}`);
    }
    this.message = parts.join("\n");
  }
}
