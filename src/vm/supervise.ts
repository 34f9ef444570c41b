// A VM left running in the background (`icos run --wait-ready --keep`) still gets a fresh QEMU on
// each guest reboot, as one held by startVm does (vm.ts): a small detached `icos vm-supervise
// <workDir>` process listens on the VM's QMP events socket, and when QEMU exits because the guest
// reset (SHUTDOWN reason guest-reset; QEMU runs with -no-reboot), starts it again with the same
// arguments (qemu-argv.json) and updates the record. Any other end (power-off, `icos stop`, a
// signal) ends the supervisor too.
import { readFileSync, writeFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { qmpEvents } from "./qmp.ts";
import { releaseQemu, startQemu } from "./qemu-process.ts";
import type { ChildProcess } from "../exec.ts";
import { isQemuIn, readRecord, writeRecord, type VmRecord } from "./registry.ts";
import { WORK_FILES } from "./work-dir.ts";

/** Keep QEMU's argv beside the VM, for a restart by another process. */
export function saveQemuArgv(workDir: string, args: readonly string[]): void {
  writeFileSync(join(workDir, WORK_FILES.qemuArgv), JSON.stringify(args) + "\n");
}

/** QEMU's events socket, listened to: `rebooted()` once it closed tells whether the guest reset. */
export interface ShutdownWatch {
  /** Settles when QEMU closed the socket (it exits): every event it sent has been seen. */
  closed: Promise<void>;
  close(): void;
  /** The last SHUTDOWN event's reason was guest-reset (the guest rebooted under -no-reboot). */
  rebooted(): boolean;
}

export async function watchShutdown(eventsSocket: string): Promise<ShutdownWatch> {
  let reason: string | undefined;
  const events = await qmpEvents(eventsSocket, (e) => {
    if (e.event === "SHUTDOWN" && typeof e.data?.reason === "string") reason = e.data.reason;
  });
  return { ...events, rebooted: () => reason === "guest-reset" };
}

/** The guest rebooted and its QEMU exited: the same machine again, in a fresh QEMU (`rec` gets its pid). */
export async function startQemuAgain(args: readonly string[], rec: VmRecord, who: string): Promise<ChildProcess> {
  await appendFile(rec.qemuLog, `${who}: the guest rebooted; starting a fresh QEMU on the same disk (a reset inside QEMU leaves OVMF crawling under TCG)\n`);
  const child = await startQemu(args, rec.workDir, rec.qemuLog, { append: true });
  writeRecord({ ...rec, pid: child.pid! });
  return child;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Supervise the VM in `workDir` until it ends by anything but a guest reboot. */
export async function superviseReboots(workDir: string): Promise<void> {
  const args = JSON.parse(readFileSync(join(workDir, WORK_FILES.qemuArgv), "utf8")) as string[];
  for (;;) {
    const rec = readRecord(workDir);
    if (!rec || !isQemuIn(rec.pid, workDir)) return;
    const events = await watchShutdown(join(workDir, WORK_FILES.qmpEventsSocket)).catch(() => undefined);
    if (!events) throw new UserError(`${workDir}: no QMP events socket: cannot supervise this VM`);
    await events.closed;
    while (isQemuIn(rec.pid, workDir)) await sleep(100);
    if (!events.rebooted() || !readRecord(workDir)) return;
    const child = await startQemuAgain(args, rec, "icos vm-supervise");
    releaseQemu(child);
    child.unref();
  }
}
