// QEMU as a child process: started in its own process group with its output in qemu.log, killed if
// icos exits without stopping it, stopped with SIGTERM then SIGKILL. Spawned through src/exec.ts.
import { closeSync, openSync, writeFileSync } from "node:fs";
import { start, type ChildProcess } from "../exec.ts";
import { QEMU_BINARY } from "./qemu-args.ts";

/** QEMU keeps running (paused) after this, so it is watched for in qemu.log. */
export const QEMU_FATAL = /KVM internal error|kvm run failed/;

const STOP_GRACE_MS = 5000;

// Every QEMU we started and still own: killed if this process exits without stopping them.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    process.on("exit", () => {
      for (const c of live) c.kill("SIGKILL");
    });
    exitHookInstalled = true;
  }
  live.add(child);
  child.once("exit", () => live.delete(child));
}

/** Start QEMU with `args` in `workDir`, its stdout and stderr into `qemuLog`; owned (and killed on exit) until released. */
export async function startQemu(args: readonly string[], workDir: string, qemuLog: string, o: { append?: boolean } = {}): Promise<ChildProcess> {
  // Emptied (unless `append`: the same VM again), then opened for appending: lines icos adds are not overwritten.
  if (!o.append) writeFileSync(qemuLog, "");
  const logFd = openSync(qemuLog, "a");
  let child: ChildProcess;
  try {
    // detached: its own process group, so a Ctrl-C in the terminal reaches only us and we stop
    // QEMU ourselves (and a kept VM survives the terminal).
    child = await start(QEMU_BINARY, args, { cwd: workDir, stdio: ["ignore", logFd, logFd], detached: true });
  } finally {
    closeSync(logFd);
  }
  track(child);
  return child;
}

/** Let `child` outlive this process: no longer killed when we exit. */
export function releaseQemu(child: ChildProcess): void {
  live.delete(child);
}

/** SIGTERM, then SIGKILL after 5 s; settles when `exited` (the caller's view of its exit) does. */
export async function stopQemu(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGTERM");
    const grace = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    await exited;
    clearTimeout(grace);
  } else await exited;
}
