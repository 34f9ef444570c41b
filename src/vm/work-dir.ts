// A VM's work directory, <cache>/vm/<name>-XXXXXX (or one the caller names): the qcow2 overlay over
// the read-only disk image, the console socket, serial.log and qemu.log. Made fresh for each boot,
// or kept with its overlay to boot again (resume).
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { UserError } from "../errors.ts";
import { run } from "../exec.ts";
import { cacheDir } from "../paths.ts";
import { defaultVmName, RECORD_FILE, targetOfDisk } from "./registry.ts";

/** Names relative to the work directory (QEMU's cwd): a unix socket path must stay under 108 bytes. */
export const WORK_FILES = {
  overlay: "overlay.qcow2",
  serialSocket: "ser.sock",
  qmpSocket: "qmp.sock",
  /** A second QMP socket: the launcher listens there for the guest's reset (vm.ts). */
  qmpEventsSocket: "qmp-ev.sock",
  /** QEMU's argv, for a restart by `icos vm-supervise` (supervise.ts). */
  qemuArgv: "qemu-argv.json",
  serialLog: "serial.log",
  qemuLog: "qemu.log",
  record: RECORD_FILE,
} as const;

/** The VM's own ssh known_hosts: kept when the overlay is resumed (same machine, same host keys). */
export const KNOWN_HOSTS_FILE = "known_hosts";

export interface WorkDirOptions {
  /** The disk image, absolute: the overlay's backing file. */
  disk: string;
  /** Names a new work directory; default: the disk's build target (guestos-dev), else its file name. */
  name?: string;
  /** Use this directory instead of a new one under the cache. */
  workDir?: string;
  /** Keep the overlay already in `workDir` (a VM stopped with `keep`). */
  resume: boolean;
  env: NodeJS.ProcessEnv;
}

/** The work directory (absolute), emptied of an earlier run's files, with an overlay to boot. */
export async function prepareWorkDir(o: WorkDirOptions): Promise<string> {
  let workDir: string;
  if (o.workDir) {
    workDir = resolve(o.workDir);
    await mkdir(workDir, { recursive: true });
  } else {
    const name = o.name === undefined ? defaultVmName(o.disk, targetOfDisk(o.disk)) : o.name.replace(/[^\w.-]+/g, "_");
    await mkdir(join(cacheDir(o.env), "vm"), { recursive: true });
    workDir = await mkdtemp(join(cacheDir(o.env), "vm", `${name}-`));
  }
  const files = WORK_FILES;
  if (o.resume && !(o.workDir && existsSync(join(workDir, files.overlay)))) throw new UserError(`resume: no overlay.qcow2 in ${workDir}`, "resume needs the workDir of a VM stopped with keep");
  for (const f of Object.values(files)) if (!(o.resume && f === files.overlay)) await rm(join(workDir, f), { force: true });
  if (!o.resume) await rm(join(workDir, KNOWN_HOSTS_FILE), { force: true });
  if (!o.resume) {
    await run("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", o.disk, files.overlay], {
      cwd: workDir,
      context: `create the copy-on-write overlay for ${o.disk}`,
    });
  }
  return workDir;
}
