// The VMs `icos run` left running, for `icos ps`, `stop`, `ssh` and `console`. Each VM started
// by startVm writes a record, vm.json, into its work directory; the registry is the work
// directories under <cache>/vm/ that hold one. A record counts only while its process is still
// that VM: the pid must be a QEMU (/proc/PID/comm) whose working directory is the record's
// (QEMU runs there), so a pid reused by another process is never taken for the VM.
import { existsSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { UserError } from "../errors.ts";
import { cacheDir } from "../paths.ts";

export const RECORD_FILE = "vm.json";
/** A work directory younger than this may belong to a VM still starting (its QEMU not there yet). */
export const YOUNG_WORK_DIR_MS = 120_000;
const RECORD_VERSION = 1;

export interface VmRecord {
  version: typeof RECORD_VERSION;
  /** The work directory's name, e.g. guestos-dev-Xy12Ab: unique under <cache>/vm/. */
  name: string;
  /** The build target when the disk is an `icos build` output (manifest.json beside it). */
  target?: string;
  disk: string;
  pid: number;
  sshPort: number;
  workDir: string;
  serialLog: string;
  serialSocket: string;
  /** QEMU's QMP socket (graceful powerdown); absent for VMs started before it existed. */
  qmpSocket?: string;
  qemuLog: string;
  /** The ssh known_hosts of this VM alone (StrictHostKeyChecking=accept-new against it). */
  knownHosts: string;
  configMedia?: string;
  accel: string;
  /** stop() keeps the overlay (it can be booted again with resume). */
  keep: boolean;
  /** Date.now() when QEMU started. */
  startedAt: number;
}

/** Where the work directories (and so the records) of VMs are: <cache>/vm. */
export function vmRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), "vm");
}

/** Write the record into its work directory (through a temp file: a reader never sees half of it). */
export function writeRecord(rec: VmRecord): void {
  const file = join(rec.workDir, RECORD_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(rec, null, 2) + "\n");
  renameSync(tmp, file);
}

export function removeRecord(workDir: string): void {
  rmSync(join(workDir, RECORD_FILE), { force: true });
}

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v > 0;
const isStr = (v: unknown): v is string => typeof v === "string" && v.length > 0;

/** The record in `workDir`, or undefined when there is none or it is not one we wrote. */
export function readRecord(workDir: string): VmRecord | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(workDir, RECORD_FILE), "utf8"));
  } catch {
    return undefined;
  }
  const r = raw as Partial<VmRecord>;
  if (typeof raw !== "object" || raw === null || r.version !== RECORD_VERSION) return undefined;
  if (!isInt(r.pid) || !isInt(r.sshPort) || !isInt(r.startedAt) || !isStr(r.name) || !isStr(r.workDir) || !isStr(r.serialSocket) || !isStr(r.serialLog) || !isStr(r.knownHosts)) {
    return undefined;
  }
  return r as VmRecord;
}

/** Is `pid` a QEMU running in `workDir`? false for a gone pid, and for one reused by anything else. */
export function isQemuIn(pid: number, workDir: string): boolean {
  try {
    // comm is the executable's name cut to 15 bytes: "qemu-system-x86".
    if (!readFileSync(`/proc/${pid}/comm`, "utf8").startsWith("qemu-system")) return false;
    return readlinkSync(`/proc/${pid}/cwd`) === workDir;
  } catch {
    return false; // gone, or not ours to look at
  }
}

/** The working directories of every QEMU on this machine (for left-over work directories). */
export function qemuWorkDirs(): Set<string> {
  const dirs = new Set<string>();
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").startsWith("qemu-system")) dirs.add(readlinkSync(`/proc/${pid}/cwd`));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return dirs;
}

/** The work directories under <cache>/vm/ (absolute), sorted. */
export function workDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const root = vmRoot(env);
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(root, e.name))
    .sort();
}

/**
 * Work directories under <cache>/vm/ whose VM is gone: no QEMU runs in them, and none was made or
 * written in the last YOUNG_WORK_DIR_MS (a VM may be starting). What `icos clean` removes.
 */
export function leftoverWorkDirs(env: NodeJS.ProcessEnv = process.env, now = Date.now()): string[] {
  const live = qemuWorkDirs();
  return workDirs(env).filter((dir) => {
    if (live.has(dir)) return false;
    const mtime = statSync(dir, { throwIfNoEntry: false })?.mtimeMs;
    return mtime !== undefined && now - mtime >= YOUNG_WORK_DIR_MS;
  });
}

/**
 * The running VMs, oldest first. A record whose VM is gone (QEMU exited, was killed, or its pid now
 * belongs to another process) is removed on the way.
 */
export function listVms(env: NodeJS.ProcessEnv = process.env): VmRecord[] {
  const vms: VmRecord[] = [];
  for (const dir of workDirs(env)) {
    const rec = readRecord(dir);
    if (!rec) continue;
    if (rec.workDir === dir && isQemuIn(rec.pid, dir)) vms.push(rec);
    else removeRecord(dir);
  }
  return vms.sort((a, b) => a.startedAt - b.startedAt || a.name.localeCompare(b.name));
}

/** How a VM is shown to a user: its target if it has one, else its disk. */
export const vmWhat = (v: VmRecord): string => v.target ?? v.disk;

/**
 * The one VM `arg` names: its name, a unique prefix of it, its pid, or its target (when one VM
 * runs it). No argument: the one running VM. Anything else is a UserError listing what runs.
 */
export function findVm(arg: string | undefined, env: NodeJS.ProcessEnv = process.env, what = "VM"): VmRecord {
  const vms = listVms(env);
  const running = (list: VmRecord[]) => list.map((v) => `${v.name} (${vmWhat(v)}, pid ${v.pid})`).join(", ");
  if (vms.length === 0) {
    throw new UserError(
      `no running VM${arg === undefined ? "" : ` named "${arg}"`}: none was started by \`icos run\` with this cache (${vmRoot(env)})`,
      "start one with `icos run <target> --wait-ready --keep`; ICOS_CACHE_DIR must be the same as when it was started",
    );
  }
  if (arg === undefined) {
    if (vms.length === 1) return vms[0]!;
    throw new UserError(`${vms.length} VMs are running; say which ${what}: ${running(vms)}`, "give its name (or a unique start of it), pid or target; `icos ps` lists them");
  }
  const exact = vms.filter((v) => v.name === arg || String(v.pid) === arg);
  if (exact.length === 1) return exact[0]!;
  const byTarget = vms.filter((v) => v.target === arg);
  const byPrefix = vms.filter((v) => v.name.startsWith(arg));
  const matches = byTarget.length > 0 ? byTarget : byPrefix;
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new UserError(`"${arg}" matches ${matches.length} running VMs: ${running(matches)}`, "give the VM's full name or its pid");
  throw new UserError(`no running VM "${arg}"; running: ${running(vms)}`, "give a VM's name (or a unique start of it), pid or target, as `icos ps` lists them");
}

/** A default VM name from its disk: the target of an `icos build` output, else the file's name. */
export function defaultVmName(disk: string, target: string | undefined): string {
  const name = target ? target.replace(/\//g, "-") : basename(disk).replace(/\.(img|raw|qcow2)$/, "");
  return name.replace(/[^\w.-]+/g, "_") || "vm";
}

/** The target of a disk that `icos build` wrote: manifest.json beside it names it. */
export function targetOfDisk(disk: string): string | undefined {
  try {
    const manifest = JSON.parse(readFileSync(join(disk, "..", "manifest.json"), "utf8")) as { target?: unknown };
    return typeof manifest.target === "string" && /^[a-z0-9][a-z0-9-]*\/[a-z0-9][a-z0-9-]*$/.test(manifest.target) ? manifest.target : undefined;
  } catch {
    return undefined;
  }
}
