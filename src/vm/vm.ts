// Boot a disk image in QEMU and watch its serial console. The built image is never written: QEMU
// runs on a qcow2 overlay whose read-only backing file is the image. Everything a run makes lives
// in one work directory (<cache>/vm/<name>-XXXXXX): overlay.qcow2, ser.sock (the console, for
// socat), serial.log (every console byte, written by QEMU) and qemu.log (QEMU's own output).
import { closeSync, existsSync, openSync, statSync } from "node:fs";
import { mkdir, mkdtemp, open, readFile, rm, type FileHandle } from "node:fs/promises";
import { createServer } from "node:net";
import { basename, join, resolve } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { ToolFailedError, ToolMissingError, UserError } from "../errors.ts";
import { run, shellQuote, start, type ChildProcess } from "../exec.ts";
import { cacheDir } from "../paths.ts";
import { chooseAccel, type AccelDecision } from "./accel.ts";
import { cleanConsoleText, lastLines, PANIC_LINE, parseReadyLine, READY_LINE, type ReadyState } from "./console.ts";
import { OVMF_PATH, QEMU_BINARY, qemuArgs } from "./qemu-args.ts";

export { cleanConsoleText, MILESTONES, PANIC_LINE, parseReadyLine, READY_LINE, type ReadyState } from "./console.ts";

/** QEMU keeps running (paused) after this, so it is watched for in qemu.log. */
const QEMU_FATAL = /KVM internal error|kvm run failed/;

const TAIL_LINES = 40;
const POLL_MS = 100;
const STOP_GRACE_MS = 5000;

export type VmFailure = "timeout" | "panic" | "not-ready" | "exited" | "qemu-error";

/** The guest did not get where we waited for it to get. Exit code 1, like a failed tool. */
export class VmError extends ToolFailedError {
  constructor(
    readonly kind: VmFailure,
    summary: string,
    readonly serialTail: string,
    readonly qemuLogTail: string,
    vm: { disk: string; serialLog: string; qemuLog: string; workDir: string; command: string },
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

export interface StartVmOptions {
  /** A raw disk image; used read-only as the overlay's backing file. */
  disk: string;
  /** Names the work directory (<cache>/vm/<name>-XXXXXX); default: the disk's file name. */
  name?: string;
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
  /** Stop watching and let QEMU outlive this process (it keeps running in the background); stop() no longer applies. */
  detach(): void;
}

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

  let workDir: string;
  if (o.workDir) {
    workDir = resolve(o.workDir);
    await mkdir(workDir, { recursive: true });
  } else {
    const name = (o.name ?? basename(disk).replace(/\.(img|raw)$/, "")).replace(/[^\w.-]+/g, "_");
    await mkdir(join(cacheDir(env), "vm"), { recursive: true });
    workDir = await mkdtemp(join(cacheDir(env), "vm", `${name}-`));
  }
  // Names relative to workDir (QEMU's cwd): a unix socket path must stay under 108 bytes.
  const files = { overlay: "overlay.qcow2", serialSocket: "ser.sock", serialLog: "serial.log", qemuLog: "qemu.log" };
  const resume = o.resume === true;
  if (resume && !(o.workDir && existsSync(join(workDir, files.overlay)))) throw new UserError(`resume: no overlay.qcow2 in ${workDir}`, "resume needs the workDir of a VM stopped with keep");
  for (const f of Object.values(files)) if (!(resume && f === files.overlay)) await rm(join(workDir, f), { force: true });
  if (!resume) {
    await run("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", disk, files.overlay], {
      cwd: workDir,
      context: `create the copy-on-write overlay for ${disk}`,
    });
  }

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
    noReboot: o.noReboot,
  });
  const logFd = openSync(join(workDir, files.qemuLog), "w");
  let child: ChildProcess;
  try {
    // detached: its own process group, so a Ctrl-C in the terminal reaches only us and we stop
    // QEMU ourselves (and a kept VM survives the terminal).
    child = await start(QEMU_BINARY, args, { cwd: workDir, stdio: ["ignore", logFd, logFd], detached: true });
  } finally {
    closeSync(logFd);
  }
  track(child);
  return new Vm(child, {
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
  });
}

interface VmInfo {
  disk: string;
  workDir: string;
  sshPort: number;
  accel: AccelDecision;
  keep: boolean;
  command: string;
  overlay: string;
  serialSocket: string;
  serialLog: string;
  qemuLog: string;
}

interface SeenLine {
  line: string;
  /** Since QEMU started. */
  elapsedMs: number;
}

interface Waiter {
  test: (line: string) => boolean;
  resolve: (seen: SeenLine) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

class Vm implements VmHandle {
  readonly pid: number;
  readonly sshPort: number;
  readonly serialLog: string;
  readonly serialSocket: string;
  readonly qemuLog: string;
  readonly workDir: string;
  readonly accel: AccelDecision;
  readonly command: string;
  readonly startedAt = Date.now();
  readonly exited: Promise<VmExit>;
  private readonly lines: SeenLine[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly lineListeners: ((line: string, elapsedMs: number) => void)[] = [];
  private readonly dataListeners: ((chunk: Buffer) => void)[] = [];
  private readonly decoder = new StringDecoder("utf8");
  private partial = "";
  private fd: FileHandle | undefined;
  private pos = 0;
  private reading: Promise<void> = Promise.resolve();
  private readonly poll: NodeJS.Timeout;
  private polls = 0;
  private failure: VmError | undefined;
  private exitInfo: VmExit | undefined;

  constructor(
    private readonly child: ChildProcess,
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
    this.poll = setInterval(() => this.tick(), POLL_MS);
    this.exited = new Promise((resolveExit) => {
      child.once("exit", (code, signal) => void this.onExit({ code, signal }).then(() => resolveExit({ code, signal })));
    });
  }

  onLine(listener: (line: string, elapsedMs: number) => void): void {
    this.lineListeners.push(listener);
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
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
    const test = typeof match === "function" ? match : (line: string) => match.test(line);
    const seen = this.lines.find((l) => test(l.line));
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolveWait, rejectWait) => {
      const waiter: Waiter = {
        test,
        resolve: resolveWait,
        reject: rejectWait,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          rejectWait(this.error("timeout", `timed out after ${Math.round(timeoutMs / 1000)} s (${this.accel.accel.toUpperCase()})`, ""));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  async stop(): Promise<void> {
    if (this.exitInfo === undefined && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      const grace = setTimeout(() => this.child.kill("SIGKILL"), STOP_GRACE_MS);
      await this.exited;
      clearTimeout(grace);
    } else await this.exited;
    if (!this.info.keep) {
      await rm(this.info.overlay, { force: true });
      await rm(this.info.serialSocket, { force: true });
    }
  }

  detach(): void {
    clearInterval(this.poll);
    live.delete(this.child);
    this.child.removeAllListeners("exit");
    this.child.unref();
    for (const w of this.waiters) clearTimeout(w.timer);
    this.waiters.clear();
    void this.fd?.close();
    this.fd = undefined;
  }

  private async onExit(exit: VmExit): Promise<void> {
    clearInterval(this.poll);
    // QEMU may exit right after the guest prints its last line (GRUB's halt): read to the end.
    await this.read(true).catch(() => undefined);
    this.exitInfo = exit;
    const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
    const qemuText = await readFile(this.qemuLog, "utf8").catch(() => "");
    this.fail(this.error("exited", `QEMU exited (${how}) before the guest got there`, lastLines(qemuText, 10)));
    await this.fd?.close().catch(() => undefined);
    this.fd = undefined;
  }

  private tick(): void {
    this.read(false).catch(() => undefined); // tried again on the next tick
    // qemu.log is small and rarely written: look at it every second.
    if (++this.polls % 10 === 0) {
      void readFile(this.qemuLog, "utf8")
        .then((text) => {
          const m = QEMU_FATAL.exec(text);
          if (m) this.fail(this.error("qemu-error", `QEMU stopped the guest: ${m[0]}`, lastLines(text, 10)));
        })
        .catch(() => undefined);
    }
  }

  /** Read what QEMU appended to the serial log (one read at a time); `final` flushes the last partial line. */
  private read(final: boolean): Promise<void> {
    const next = this.reading.then(async () => {
      if (!this.fd) {
        try {
          this.fd = await open(this.serialLog, "r");
        } catch {
          return; // not created yet
        }
      }
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await this.fd.read(buf, 0, buf.length, this.pos);
        if (bytesRead === 0) break;
        this.pos += bytesRead;
        const chunk = Buffer.from(buf.subarray(0, bytesRead));
        for (const l of this.dataListeners) l(chunk);
        this.addText(this.decoder.write(chunk));
      }
      if (final) this.addText(this.decoder.end() + "\n");
    });
    this.reading = next.catch(() => undefined); // a failed read must not block the next one
    return next;
  }

  private addText(text: string): void {
    const parts = (this.partial + text).split("\n");
    this.partial = parts.pop()!;
    const elapsed = Date.now() - this.startedAt;
    for (const raw of parts) {
      const line = cleanConsoleText(raw);
      const seen = { line, elapsedMs: elapsed };
      this.lines.push(seen);
      for (const l of this.lineListeners) l(line, elapsed);
      if (PANIC_LINE.test(line)) {
        this.fail(this.error("panic", `the guest panicked: ${line.trim()}`, ""));
        continue;
      }
      for (const w of [...this.waiters]) {
        if (w.test(line)) {
          clearTimeout(w.timer);
          this.waiters.delete(w);
          w.resolve(seen);
        }
      }
    }
  }

  private fail(e: VmError): void {
    this.failure ??= e;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.waiters.clear();
  }

  private error(kind: VmFailure, summary: string, qemuLogTail: string): VmError {
    const serialTail = this.lines
      .map((l) => l.line)
      .filter((l) => l.trim() !== "")
      .slice(-TAIL_LINES)
      .join("\n");
    return new VmError(kind, summary, serialTail, qemuLogTail, this.info);
  }
}
