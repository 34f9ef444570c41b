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
import { isQemuIn, readRecord, writeRecord } from "./registry.ts";
import { WORK_FILES } from "./work-dir.ts";

/** Keep QEMU's argv beside the VM, for a restart by another process. */
export function saveQemuArgv(workDir: string, args: readonly string[]): void {
  writeFileSync(join(workDir, WORK_FILES.qemuArgv), JSON.stringify(args) + "\n");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Supervise the VM in `workDir` until it ends by anything but a guest reboot. */
export async function superviseReboots(workDir: string): Promise<void> {
  const args = JSON.parse(readFileSync(join(workDir, WORK_FILES.qemuArgv), "utf8")) as string[];
  for (;;) {
    const rec = readRecord(workDir);
    if (!rec || !isQemuIn(rec.pid, workDir)) return;
    let reason: string | undefined;
    const events = await qmpEvents(join(workDir, WORK_FILES.qmpEventsSocket), (e) => {
      if (e.event === "SHUTDOWN" && typeof e.data?.reason === "string") reason = e.data.reason;
    }).catch(() => undefined);
    if (!events) throw new UserError(`${workDir}: no QMP events socket: cannot supervise this VM`);
    await events.closed;
    while (isQemuIn(rec.pid, workDir)) await sleep(100);
    if (reason !== "guest-reset" || !readRecord(workDir)) return;
    await appendFile(rec.qemuLog, "icos vm-supervise: the guest rebooted; starting a fresh QEMU on the same disk\n");
    const child = await startQemu(args, workDir, rec.qemuLog, { append: true });
    releaseQemu(child);
    child.unref();
    writeRecord({ ...rec, pid: child.pid! });
  }
}
