// KVM or TCG. ICOS_ACCEL=kvm|tcg|auto (default auto). Auto picks KVM only when /dev/kvm opens
// read-write AND a probe boots OVMF under KVM far enough to print on the serial port: some hosts
// have a /dev/kvm that opens fine but cannot run a guest (a PVM variant where OVMF stops with "KVM
// internal error" and kernels hang early), so opening the device proves nothing. The probe's
// verdict is cached in <cache>/accel.json, keyed by kernel release and QEMU version.
import { closeSync, constants, openSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { run, start, type ChildProcess } from "../exec.ts";
import { writeAtomically } from "../fs/files.ts";
import { cacheDir } from "../paths.ts";
import { QEMU_BINARY, type Accel } from "./qemu-args.ts";

export interface AccelDecision {
  accel: Accel;
  /** Why, for the user: "KVM probe failed: KVM internal error (OVMF did not start)". */
  reason: string;
  /** The verdict came from accel.json, not a probe run now. */
  cached: boolean;
}

export interface ProbeResult {
  ok: boolean;
  reason: string;
  /** A verdict worth caching (false when the probe was interrupted by a signal). */
  definite: boolean;
}

interface CacheEntry {
  kernel: string;
  qemu: string;
  ok: boolean;
  reason: string;
  probedAt: string;
}

export const PROBE_TIMEOUT_MS = 10_000;

/** icos's cache directory: $ICOS_CACHE_DIR, default <repo>/.icos-cache. */

/** "using TCG: KVM probe failed: ..." — printed on every run, so the user always knows. */
export function describeAccel(d: AccelDecision): string {
  return `using ${d.accel.toUpperCase()}: ${d.reason}`;
}

export async function qemuVersion(): Promise<string> {
  const r = await run(QEMU_BINARY, ["--version"], { context: "ask QEMU its version" });
  return /version (\S+)/.exec(r.stdout)?.[1] ?? r.stdout.split("\n")[0]!.trim();
}

function openKvm(): string | undefined {
  try {
    closeSync(openSync("/dev/kvm", constants.O_RDWR));
    return undefined;
  } catch (e) {
    return `cannot open /dev/kvm read-write (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
  }
}

export interface ChooseAccelOptions {
  ovmf: string;
  env?: NodeJS.ProcessEnv;
}

export async function chooseAccel(o: ChooseAccelOptions): Promise<AccelDecision> {
  const env = o.env ?? process.env;
  const wanted = env.ICOS_ACCEL ?? "auto";
  if (wanted === "kvm" || wanted === "tcg") return { accel: wanted, reason: `ICOS_ACCEL=${wanted}`, cached: false };
  if (wanted !== "auto") throw new UserError(`ICOS_ACCEL=${wanted}: expected kvm, tcg or auto`);

  const cannotOpen = openKvm();
  if (cannotOpen) return { accel: "tcg", reason: cannotOpen, cached: false };

  const key = { kernel: release(), qemu: await qemuVersion() };
  const file = join(cacheDir(env), "accel.json");
  const hit = await readCache(file);
  if (hit && hit.kernel === key.kernel && hit.qemu === key.qemu) {
    return verdict(hit.ok, hit.reason, ` (cached ${hit.probedAt} in ${file}; delete it to probe again)`, true);
  }
  const probe = await probeKvm(o.ovmf);
  if (probe.definite) {
    const entry: CacheEntry = { ...key, ok: probe.ok, reason: probe.reason, probedAt: new Date().toISOString() };
    await mkdir(cacheDir(env), { recursive: true });
    await writeAtomically(file, (tmp) => writeFile(tmp, JSON.stringify(entry, null, 2) + "\n"));
  }
  return verdict(probe.ok, probe.reason, "", false);
}

function verdict(ok: boolean, reason: string, suffix: string, cached: boolean): AccelDecision {
  return ok
    ? { accel: "kvm", reason: `KVM probe passed: ${reason}${suffix}`, cached }
    : { accel: "tcg", reason: `KVM probe failed: ${reason}${suffix}`, cached };
}

async function readCache(file: string): Promise<CacheEntry | undefined> {
  try {
    const v = JSON.parse(await readFile(file, "utf8")) as Partial<CacheEntry>;
    if (typeof v.kernel === "string" && typeof v.qemu === "string" && typeof v.ok === "boolean" && typeof v.reason === "string") {
      return { kernel: v.kernel, qemu: v.qemu, ok: v.ok, reason: v.reason, probedAt: String(v.probedAt) };
    }
  } catch {
    // missing or unreadable: probe again
  }
  return undefined;
}

const KVM_FAILURE = /KVM internal error|failed to initialize kvm|Could not access KVM|kvm run failed/i;

/**
 * Boot OVMF under KVM with no disk and no NIC, and watch: OVMF's boot manager prints "BdsDxe" on
 * the serial port within a second or two on a working KVM (about 3 s even under TCG). A broken
 * KVM stops QEMU with "KVM internal error" on stderr (QEMU then pauses rather than exits).
 */
export async function probeKvm(ovmf: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  const dir = await mkdtemp(join(tmpdir(), "icos-kvm-probe-"));
  const log = join(dir, "serial.log");
  const args = ["-machine", "q35", "-accel", "kvm", "-cpu", "host", "-m", "256", "-bios", ovmf, "-nodefaults"];
  args.push("-display", "none", "-monitor", "none", "-serial", `file:${log}`, "-nic", "none", "-no-reboot");
  const started = Date.now();
  let child: ChildProcess | undefined;
  const killOnExit = (): void => void child?.kill("SIGKILL");
  process.on("exit", killOnExit);
  try {
    // start() rejects (a ToolMissingError without QEMU) before anything is watched; finally cleans up.
    child = await start(QEMU_BINARY, args, { stdio: ["ignore", "ignore", "pipe"] });
    const qemu = child;
    let stderr = "";
    qemu.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
    return await new Promise<ProbeResult>((resolveProbe, reject) => {
      const finish = (r: ProbeResult): void => {
        clearInterval(poll);
        resolveProbe(r);
      };
      qemu.on("error", (e: NodeJS.ErrnoException) => {
        clearInterval(poll);
        reject(e);
      });
      qemu.on("exit", (code, signal) => {
        const said = mainError(stderr) || "no message";
        // Killed from outside (Ctrl-C, kill): no verdict. Crashed (SIGABRT, SIGSEGV): a verdict.
        if (signal && INTERRUPTS.includes(signal)) finish({ ok: false, reason: `probe interrupted by ${signal}`, definite: false });
        else if (signal) finish({ ok: false, reason: `QEMU crashed (${signal}): ${said}`, definite: true });
        else finish({ ok: false, reason: `QEMU exited with code ${code}: ${said}`, definite: true });
      });
      const poll = setInterval(() => {
        void readFile(log, "utf8")
          .catch(() => "")
          .then((serial) => {
            const seconds = ((Date.now() - started) / 1000).toFixed(1);
            const failure = KVM_FAILURE.exec(stderr);
            if (failure) finish({ ok: false, reason: `${failure[0]} (OVMF did not start)`, definite: true });
            else if (serial.includes("BdsDxe")) finish({ ok: true, reason: `OVMF reached its boot manager in ${seconds} s`, definite: true });
            else if (Date.now() - started > timeoutMs) {
              finish({ ok: false, reason: `no firmware output on the serial port within ${timeoutMs / 1000} s`, definite: true });
            }
          });
      }, 100);
    });
  } finally {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const running = child;
      const exited = new Promise((r) => running.once("exit", r));
      running.kill("SIGKILL");
      await exited;
    }
    process.off("exit", killOnExit);
    await rm(dir, { recursive: true, force: true });
  }
}

const INTERRUPTS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"];

/** The line of QEMU's stderr that says what went wrong: the first error, else the last line. */
function mainError(stderr: string): string {
  const lines = stderr.trim().split("\n").map((l) => l.trim());
  return (lines.find((l) => /error/i.test(l)) ?? lines.pop() ?? "").replace(/^qemu-system-x86_64: /, "");
}
