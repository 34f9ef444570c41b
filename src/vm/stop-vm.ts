// Stopping a VM that another icos process started (`icos stop`): ask the guest to power off
// (QMP system_powerdown, the ACPI power button), then SIGTERM (QEMU exits, closing its files),
// then SIGKILL, each step bounded. Before every signal the pid is checked to still be that VM's
// QEMU (registry.ts), so a pid reused meanwhile is never signalled. Afterwards its record and
// sockets are removed, and its overlay too unless it was started to keep it.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { qmpCommand } from "./qmp.ts";
import { isQemuIn, removeRecord, type VmRecord } from "./registry.ts";
import { WORK_FILES } from "./work-dir.ts";

export interface StopVmOptions {
  /** How long the guest may take to power off after the ACPI request; 0 skips it (straight to SIGTERM). */
  powerdownMs: number;
  /** After SIGTERM, before SIGKILL. */
  termMs?: number;
  /** What happens, as it happens (e.g. "no QMP socket: sending SIGTERM"). */
  note?: (line: string) => void;
}

export type StopHow = "powerdown" | "sigterm" | "sigkill" | "gone";

export interface StopVmResult {
  name: string;
  pid: number;
  /** What ended it: the guest powered off, SIGTERM, SIGKILL, or it was gone already. */
  how: StopHow;
  seconds: number;
}

const POLL_MS = 100;
const TERM_MS = 5000;
const KILL_MS = 5000;

async function exitedWithin(rec: VmRecord, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (!isQemuIn(rec.pid, rec.workDir)) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Signal the VM's QEMU, only while the pid is still it. */
function signal(rec: VmRecord, sig: NodeJS.Signals): void {
  if (!isQemuIn(rec.pid, rec.workDir)) return;
  try {
    process.kill(rec.pid, sig);
  } catch {
    // exited between the check and the signal
  }
}

export async function stopVm(rec: VmRecord, o: StopVmOptions): Promise<StopVmResult> {
  const started = Date.now();
  const note = o.note ?? (() => undefined);
  const done = (how: StopHow): StopVmResult => {
    removeRecord(rec.workDir);
    for (const f of [WORK_FILES.serialSocket, WORK_FILES.qmpSocket, ...(rec.keep ? [] : [WORK_FILES.overlay])]) rmSync(join(rec.workDir, f), { force: true });
    return { name: rec.name, pid: rec.pid, how, seconds: (Date.now() - started) / 1000 };
  };
  if (!isQemuIn(rec.pid, rec.workDir)) return done("gone");
  if (o.powerdownMs > 0) {
    let asked = false;
    if (rec.qmpSocket) {
      try {
        await qmpCommand(rec.qmpSocket, "system_powerdown");
        asked = true;
      } catch (e) {
        note(`${rec.name}: cannot ask for a powerdown (${(e as Error).message})`);
      }
    } else note(`${rec.name}: started without a QMP socket, no powerdown to ask for`);
    if (asked) {
      note(`${rec.name}: asked the guest to power off (ACPI), waiting up to ${Math.round(o.powerdownMs / 1000)} s`);
      if (await exitedWithin(rec, o.powerdownMs)) return done("powerdown");
      note(`${rec.name}: still running after ${Math.round(o.powerdownMs / 1000)} s`);
    }
  }
  note(`${rec.name}: sending SIGTERM to QEMU (pid ${rec.pid})`);
  signal(rec, "SIGTERM");
  if (await exitedWithin(rec, o.termMs ?? TERM_MS)) return done("sigterm");
  note(`${rec.name}: QEMU ignored SIGTERM, sending SIGKILL`);
  signal(rec, "SIGKILL");
  if (await exitedWithin(rec, KILL_MS)) return done("sigkill");
  throw new Error(`QEMU (pid ${rec.pid}) of ${rec.name} is still there after SIGKILL`);
}
