// A guest that reboots prints "reboot: machine restart" and, a moment later, its firmware's first
// lines. Under TCG, QEMU with OVMF now and then never comes back from that reset (seen in the slow
// tier, about one reboot in tens): the VM sits silent forever. The launcher watches for it and
// resets the machine over QMP, once per reboot; the reset is what the guest asked for anyway.

/** What the kernel prints as its last line before the machine resets. */
const RESTART_LINE = /reboot: (machine restart|Restarting system)/;

/** Silence after the restart line that counts as a hung reset (OVMF speaks within seconds). */
export const RESET_STALL_MS = 30_000;

export class RebootWatch {
  private restartAt: number | undefined;

  constructor(private readonly stallMs = RESET_STALL_MS) {}

  /** Every serial line, as it comes: a restart line arms the watch, any later line disarms it. */
  saw(line: string, nowMs: number): void {
    this.restartAt = RESTART_LINE.test(line) ? nowMs : undefined;
  }

  /** True once per hung reset: the restart line was the last thing seen, `stallMs` ago or more. */
  stalled(nowMs: number): boolean {
    if (this.restartAt === undefined || nowMs - this.restartAt < this.stallMs) return false;
    this.restartAt = undefined;
    return true;
  }
}
