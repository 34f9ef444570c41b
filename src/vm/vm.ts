// Boot a disk image in QEMU and watch its serial console: startVm() and the VmHandle it returns,
// the public entry of src/vm/. The built image is never written: QEMU runs on a qcow2 overlay whose
// read-only backing file is the image (work-dir.ts); the process is in qemu-process.ts, the console
// reading in serial-watch.ts, the error in vm-error.ts.
import { statSync, existsSync } from "node:fs";
import { appendFile, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { basename, join, resolve } from "node:path";
import { ToolMissingError, UserError } from "../errors.ts";
import { shellQuote, type ChildProcess } from "../exec.ts";
import { chooseAccel, type AccelDecision } from "./accel.ts";
import { lastLines, parseReadyLine, READY_LINE, type ReadyState } from "./console.ts";
import { OVMF_PATH, QEMU_BINARY, qemuArgs, qemuValue } from "./qemu-args.ts";
import { QEMU_FATAL, releaseQemu, startQemu, stopQemu } from "./qemu-process.ts";
import { SerialWatch, type SeenLine } from "./serial-watch.ts";
import { VmError, type VmErrorContext, type VmFailure } from "./vm-error.ts";
import { removeRecord, targetOfDisk, writeRecord, type VmRecord } from "./registry.ts";
import { KNOWN_HOSTS_FILE, prepareWorkDir, WORK_FILES } from "./work-dir.ts";
import { qmpCommand } from "./qmp.ts";
import { saveQemuArgv, startQemuAgain, watchShutdown, type ShutdownWatch } from "./supervise.ts";

export { cleanConsoleText, MILESTONES, PANIC_LINE, parseReadyLine, READY_LINE, type ReadyState } from "./console.ts";

const TAIL_LINES = 40;
const POLL_MS = 100;
/** QMP run states in which the guest no longer runs by itself, and what they mean. */
const STOPPED: Record<string, string> = {
  "io-error": "a write to its disk failed on the host; is the host's disk full (df -h on the VM's work dir)?",
  "internal-error": "QEMU hit an internal error (see qemu.log)",
  "guest-panicked": "the guest kernel panicked",
};

export interface StartVmOptions {
  /** A raw disk image; used read-only as the overlay's backing file. */
  disk: string;
  /** Names the work directory (<cache>/vm/<name>-XXXXXX); default: the disk's build target (guestos-dev), else its file name. */
  name?: string;
  /** The build target the disk is from, for `icos ps`; default: manifest.json beside the disk. */
  target?: string;
  /** Use this directory instead of a new one under the cache. */
  workDir?: string;
  memoryMiB?: number;
  cpus?: number;
  /** Default: a free port on 127.0.0.1. */
  sshPort?: number;
  configMedia?: string;
  /** Default: chooseAccel() (ICOS_ACCEL, else the cached KVM probe). */
  accel?: AccelDecision;
  ovmf?: string;
  /** QEMU exits when the guest reboots, and stays gone. */
  noReboot?: boolean;
  /** stop() leaves the overlay in the work directory. */
  keep?: boolean;
  /** With workDir: boot the overlay already there (a VM stopped with `keep`), as after a power cut. */
  resume?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface VmExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ReadyResult extends ReadyState {
  /** From QEMU start to the ready line being seen. */
  seconds: number;
  line: string;
}

export interface VmHandle {
  readonly pid: number;
  readonly sshPort: number;
  readonly serialLog: string;
  readonly serialSocket: string;
  readonly qemuLog: string;
  readonly workDir: string;
  readonly accel: AccelDecision;
  /** The QEMU command, shell-quoted; it runs in workDir. */
  readonly command: string;
  /** Date.now() when QEMU was started. */
  readonly startedAt: number;
  /** Settles when QEMU has exited and the serial log has been read to its end. */
  readonly exited: Promise<VmExit>;
  /** Each complete console line (escape sequences removed) as it is seen. */
  onLine(listener: (line: string, elapsedMs: number) => void): void;
  /** The console's raw bytes as they are seen. */
  onData(listener: (chunk: Buffer) => void): void;
  /** The first console line (seen so far or later) that matches; rejects on timeout, panic or exit. */
  waitFor(match: RegExp | ((line: string) => boolean), timeoutMs: number): Promise<string>;
  /** waitFor(READY_LINE), then a failure unless state=running failed=0. */
  waitReady(timeoutMs: number): Promise<ReadyResult>;
  /** SIGTERM, then SIGKILL after 5 s; removes the overlay and socket unless `keep`. */
  stop(): Promise<void>;
  /** Stop watching and let QEMU outlive this process (it keeps running in the background); stop() no longer applies. A guest reboot then needs `icos vm-supervise` (supervise.ts) to get a new QEMU. */
  detach(): void;
}

/** A free TCP port on 127.0.0.1 (or check that `port` is free). */
export async function freePort(port = 0): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(e.code === "EADDRINUSE" ? new UserError(`ssh port ${port}: 127.0.0.1:${port} is already in use`, "pick another port, or leave it out to get a free one") : e),
    );
    server.listen(port, "127.0.0.1", () => {
      const addr = server.address();
      server.close(() => (typeof addr === "object" && addr ? resolvePort(addr.port) : reject(new Error("no port from listen()"))));
    });
  });
}

function regularFile(path: string, what: string): string {
  const abs = resolve(path);
  let ok = false;
  try {
    ok = statSync(abs).isFile();
  } catch {
    // reported below
  }
  if (!ok) throw new UserError(`${what} ${path}: no such file`);
  return abs;
}

export async function startVm(o: StartVmOptions): Promise<VmHandle> {
  const env = o.env ?? process.env;
  const disk = regularFile(o.disk, "disk image");
  const configMedia = o.configMedia === undefined ? undefined : regularFile(o.configMedia, "config media");
  const ovmf = o.ovmf ?? OVMF_PATH;
  if (!existsSync(ovmf)) throw new ToolMissingError(ovmf, "ovmf");
  const accel = o.accel ?? (await chooseAccel({ ovmf, env }));
  const sshPort = await freePort(o.sshPort ?? 0);
  const workDir = await prepareWorkDir({ disk, name: o.name, workDir: o.workDir, resume: o.resume === true, env });
  const files = WORK_FILES;
  const args = qemuArgs({
    accel: accel.accel,
    ovmf,
    overlay: files.overlay,
    memoryMiB: o.memoryMiB ?? 2048,
    cpus: o.cpus ?? 2,
    sshPort,
    serialSocket: files.serialSocket,
    serialLog: files.serialLog,
    configMedia,
    // Each guest reboot ends this QEMU and, unless the caller asked for just that, starts a fresh
    // one (Vm, supervise.ts): under TCG a reset inside QEMU is followed by minutes of firmware
    // (OVMF) crawling, seen here from 100 s to over 10 min, on every reboot.
    noReboot: true,
  });
  // QMP lets `icos stop` ask the guest to power off (ACPI) before it falls back to signals.
  args.push("-qmp", `unix:${qemuValue(files.qmpSocket)},server=on,wait=off`);
  const respawn = o.noReboot !== true;
  if (respawn) {
    // A second QMP socket, where the launcher hears why QEMU ends (SHUTDOWN reason guest-reset).
    args.push("-qmp", `unix:${qemuValue(files.qmpEventsSocket)},server=on,wait=off`);
    saveQemuArgv(workDir, args);
  }
  const child = await startQemu(args, workDir, join(workDir, files.qemuLog));
  // The record that `icos ps`, `stop`, `ssh` and `console` find the VM by (registry.ts).
  const record: VmRecord = {
    version: 1,
    name: basename(workDir),
    target: o.target ?? targetOfDisk(disk),
    disk,
    pid: child.pid!,
    sshPort,
    workDir,
    serialLog: join(workDir, files.serialLog),
    serialSocket: join(workDir, files.serialSocket),
    qmpSocket: join(workDir, files.qmpSocket),
    qemuLog: join(workDir, files.qemuLog),
    knownHosts: join(workDir, KNOWN_HOSTS_FILE),
    ...(configMedia === undefined ? {} : { configMedia }),
    accel: accel.accel,
    keep: o.keep ?? false,
    startedAt: Date.now(),
  };
  writeRecord(record);
  const vm = new Vm(child, {
    disk,
    workDir,
    sshPort,
    accel,
    keep: o.keep ?? false,
    command: shellQuote([QEMU_BINARY, ...args]),
    overlay: join(workDir, files.overlay),
    serialSocket: join(workDir, files.serialSocket),
    serialLog: join(workDir, files.serialLog),
    qemuLog: join(workDir, files.qemuLog),
    qmpSocket: join(workDir, files.qmpSocket),
    record,
    respawn: respawn ? { args, eventsSocket: join(workDir, files.qmpEventsSocket) } : undefined,
  });
  await vm.listen();
  return vm;
}

interface VmInfo extends VmErrorContext {
  record: VmRecord;
  /** Start a fresh QEMU (these args) when the guest resets, told by the events socket. */
  respawn: { args: string[]; eventsSocket: string } | undefined;
  sshPort: number;
  qmpSocket: string;
  accel: AccelDecision;
  keep: boolean;
  overlay: string;
  serialSocket: string;
}

class Vm implements VmHandle {
  pid: number;
  readonly sshPort: number;
  readonly serialLog: string;
  readonly serialSocket: string;
  readonly qemuLog: string;
  readonly workDir: string;
  readonly accel: AccelDecision;
  readonly command: string;
  readonly startedAt = Date.now();
  readonly exited: Promise<VmExit>;
  private readonly serial: SerialWatch;
  private readonly poll: NodeJS.Timeout;
  private polls = 0;
  /** QEMU's events socket: did the guest reboot? (only when this VM restarts QEMU on reboots) */
  private events: ShutdownWatch | undefined;
  private stopping = false;
  private detached = false;
  private settleExit!: (exit: VmExit) => void;

  constructor(
    private child: ChildProcess,
    private readonly info: VmInfo,
  ) {
    this.pid = child.pid!;
    this.sshPort = info.sshPort;
    this.serialLog = info.serialLog;
    this.serialSocket = info.serialSocket;
    this.qemuLog = info.qemuLog;
    this.workDir = info.workDir;
    this.accel = info.accel;
    this.command = info.command;
    this.serial = new SerialWatch(info.serialLog, this.startedAt, (line) => this.serial.fail(this.error("panic", `the guest panicked: ${line.trim()}`, "")));
    this.poll = setInterval(() => this.tick(), POLL_MS);
    this.exited = new Promise((resolveExit) => (this.settleExit = resolveExit));
    this.watch(child);
  }

  /** Connect to the events socket (when this VM restarts QEMU on a guest reboot). */
  async listen(): Promise<void> {
    if (!this.info.respawn) return;
    this.events = await watchShutdown(this.info.respawn.eventsSocket).catch(async (e: Error) => {
      await appendFile(this.qemuLog, `icos: no QMP events (${e.message}): a guest reboot will end the VM\n`).catch(() => undefined);
      return undefined;
    });
  }

  private watch(child: ChildProcess): void {
    child.once("exit", (code, signal) => void this.onChildExit({ code, signal }));
  }

  private async onChildExit(exit: VmExit): Promise<void> {
    // Every event QEMU sent is in once it has closed the socket (it does as it exits).
    if (this.events) await Promise.race([this.events.closed, new Promise((r) => setTimeout(r, 2000))]);
    if (this.info.respawn && !this.stopping && !this.detached && exit.code === 0 && this.events?.rebooted()) {
      try {
        await this.restart(this.info.respawn.args);
        return;
      } catch (e) {
        await appendFile(this.qemuLog, `icos: cannot start QEMU again after the guest's reboot: ${(e as Error).message}\n`).catch(() => undefined);
      }
    }
    await this.onExit(exit);
    this.settleExit(exit);
  }

  /** The guest rebooted and QEMU exited (-no-reboot): the same machine again in a fresh QEMU. */
  private async restart(args: readonly string[]): Promise<void> {
    const child = await startQemuAgain(args, this.info.record, "icos");
    this.child = child;
    this.pid = child.pid!;
    this.watch(child);
    if (this.stopping) child.kill("SIGTERM"); // stop() came while this one was starting
    await this.listen();
  }

  onLine(listener: (line: string, elapsedMs: number) => void): void {
    this.serial.onLine(listener);
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.serial.onData(listener);
  }

  waitFor(match: RegExp | ((line: string) => boolean), timeoutMs: number): Promise<string> {
    return this.waitForLine(match, timeoutMs).then((seen) => seen.line);
  }

  async waitReady(timeoutMs: number): Promise<ReadyResult> {
    const { line, elapsedMs } = await this.waitForLine(READY_LINE, timeoutMs);
    const ready = parseReadyLine(line)!;
    if (!ready.ok) throw this.error("not-ready", `the guest reported a failed boot: ${line.trim()}`, "");
    return { ...ready, seconds: elapsedMs / 1000, line: line.trim() };
  }

  private waitForLine(match: RegExp | ((line: string) => boolean), timeoutMs: number): Promise<SeenLine> {
    return this.serial.waitFor(match, timeoutMs, () => this.error("timeout", `timed out after ${Math.round(timeoutMs / 1000)} s (${this.accel.accel.toUpperCase()})`, ""));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await stopQemu(this.child, this.exited);
    removeRecord(this.workDir);
    if (!this.info.keep) {
      await rm(this.info.overlay, { force: true });
      await rm(this.info.serialSocket, { force: true });
      await rm(join(this.workDir, WORK_FILES.qmpSocket), { force: true });
      await rm(join(this.workDir, WORK_FILES.qmpEventsSocket), { force: true });
    }
  }

  detach(): void {
    this.detached = true;
    this.events?.close();
    clearInterval(this.poll);
    releaseQemu(this.child);
    this.child.removeAllListeners("exit");
    this.child.unref();
    this.serial.detach();
  }

  private async onExit(exit: VmExit): Promise<void> {
    clearInterval(this.poll);
    removeRecord(this.workDir); // the VM is gone: `icos ps` must not list it
    // QEMU may exit right after the guest prints its last line (GRUB's halt): read to the end.
    await this.serial.read(true).catch(() => undefined);
    const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
    const qemuText = await readFile(this.qemuLog, "utf8").catch(() => "");
    this.serial.fail(this.error("exited", `QEMU exited (${how}) before the guest got there`, lastLines(qemuText, 10)));
    await this.serial.close();
  }

  private tick(): void {
    this.serial.read(false).catch(() => undefined); // tried again on the next tick
    // Every 5 s: is the guest still running? QEMU pauses it, silently, when a disk write fails on
    // the host (werror=enospc by default: the overlay's filesystem is full).
    if (this.polls % 50 === 49) void this.checkRunState();
    // qemu.log is small and rarely written: look at it every second.
    if (++this.polls % 10 === 0) {
      void readFile(this.qemuLog, "utf8")
        .then((text) => {
          const m = QEMU_FATAL.exec(text);
          if (m) this.serial.fail(this.error("qemu-error", `QEMU stopped the guest: ${m[0]}`, lastLines(text, 10)));
        })
        .catch(() => undefined);
    }
  }

  /** Fail the waits when QEMU has stopped running the guest (query-status): a paused VM never speaks again. */
  private async checkRunState(): Promise<void> {
    const state = await qmpCommand(this.info.qmpSocket, "query-status", 2000).catch(() => undefined);
    const status = (state as { status?: unknown } | undefined)?.status;
    if (typeof status !== "string" || !Object.hasOwn(STOPPED, status)) return;
    const text = await readFile(this.qemuLog, "utf8").catch(() => "");
    this.serial.fail(this.error("paused", `QEMU stopped running the guest (status ${status}): ${STOPPED[status]}`, lastLines(text, 10)));
  }

  private error(kind: VmFailure, summary: string, qemuLogTail: string): VmError {
    return new VmError(kind, summary, this.serial.tail(TAIL_LINES), qemuLogTail, this.info);
  }
}
