import type { Command } from "commander";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { ToolMissingError, UserError } from "../../errors.ts";
import { start } from "../../exec.ts";
import { superviseReboots } from "../../vm/supervise.ts";
import { resolveArtifact } from "../../model/target.ts";
import { inputFile } from "../../user-files.ts";
import { chooseAccel, describeAccel } from "../../vm/accel.ts";
import { OVMF_PATH, parseMemoryMiB } from "../../vm/qemu-args.ts";
import { freePort, MILESTONES, startVm, type VmHandle } from "../../vm/vm.ts";
import { VmError } from "../../vm/vm-error.ts";
import { printJson, withJsonFields } from "../output.ts";
import { addOutputDirFlag } from "./output-dir.ts";

interface RunOptions {
  waitReady?: boolean;
  timeout: string;
  memory: string;
  cpus: string;
  sshPort?: string;
  configMedia?: string;
  keep?: boolean;
  json?: boolean;
  outputDir?: string;
}

const HEARTBEAT_MS = 30_000;
/** Said when no CONFIG media is attached: a GuestOS image waits for one, then reports a failed boot. */
const NO_CONFIG_MEDIA =
  "no --config-media: an image that takes its node configuration from a CONFIG media (GuestOS) waits 20 s for one, then reports a failed boot; " +
  "make one with `icos config guestos --config examples/qemu-node.json --out config.img` and add --config-media config.img";

/** `guestos/dev` -> <output root>/guestos/dev/disk.img; an output directory -> DIR/disk.img; else the file itself. */
export function resolveDisk(arg: string, outputDir?: string): string {
  return resolveArtifact(arg, { file: "disk.img", what: "a disk image file", outputDir }).path;
}

function integer(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UserError(`${flag}: expected a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

const stamp = (ms: number): string => `[${(ms / 1000).toFixed(1).padStart(5)} s]`;

/**
 * The console for a terminal, byte for byte except ANSI escape sequences (OVMF clears the screen
 * and sets colours) and carriage returns. A sequence split across two reads is held back.
 */
function consoleStream(write: (bytes: Buffer) => void): (chunk: Buffer) => void {
  const SEQUENCE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]/g;
  let held = "";
  return (chunk) => {
    const text = held + chunk.toString("latin1"); // one char per byte: nothing to decode
    const cut = text.lastIndexOf("\x1b");
    const unfinished = cut >= 0 && text.length - cut < 32 && !new RegExp(`^(?:${SEQUENCE.source})`).test(text.slice(cut));
    held = unfinished ? text.slice(cut) : "";
    const ready = unfinished ? text.slice(0, cut) : text;
    write(Buffer.from(ready.replace(SEQUENCE, "").replace(/\r/g, ""), "latin1"));
  };
}

export function register(program: Command): void {
  // Internal: started detached by `icos run --wait-ready --keep` (src/vm/supervise.ts).
  program
    .command("vm-supervise", { hidden: true })
    .description("start a fresh QEMU each time the guest of a background VM reboots (started by icos run --keep)")
    .argument("<work-dir>", "the VM's work directory")
    .action(async (workDir: string) => superviseReboots(workDir));
  addOutputDirFlag(
    program
      .command("run")
      .description("boot a disk image in QEMU on a throwaway copy-on-write overlay (the image itself is never written)")
      .argument("<target-or-disk>", "a build target such as guestos/dev (out/guestos/dev/disk.img), an output directory of `icos build` or a raw disk image"),
    "where to look for a target's disk.img",
  )
    .option("--wait-ready", "wait for the guest's ready line, report the boot time, then stop the VM")
    .option("--timeout <seconds>", "with --wait-ready: give up after this long", "300")
    .option("--memory <size>", "guest memory: MiB, or with a unit: 2048M, 512MiB, 2G, 2GiB", "2048")
    .option("--cpus <n>", "virtual CPUs", "2")
    .option("--ssh-port <port>", "host port on 127.0.0.1 forwarded to the guest's port 22 (default: a free port)")
    .option("--config-media <file>", "a raw image attached read-only as removable USB storage")
    .option("--keep", "keep the overlay; with --wait-ready, leave the VM running in the background")
    .option("--json", "with --wait-ready: print { ready, seconds, accel, sshPort, serialLog } as JSON (and { error } when it fails)")
    .addHelpText(
      "after",
      "\nExample:\n  $ icos config guestos --config examples/qemu-node.json --out config.img\n  $ icos run guestos/dev --config-media config.img\n  $ icos run out/guestos/dev/disk.img --wait-ready --timeout 120 --json\n" +
        "\nICOS_ACCEL=kvm|tcg|auto picks the accelerator (auto: KVM only if a probe boots firmware under it).",
    )
    .action(async (arg: string, opts: RunOptions) => {
      const timeoutSeconds = integer("--timeout", opts.timeout, 1, 86_400);
      const memoryMiB = parseMemoryMiB(opts.memory);
      const cpus = integer("--cpus", opts.cpus, 1, 64);
      const sshPort = opts.sshPort === undefined ? undefined : integer("--ssh-port", opts.sshPort, 1, 65_535);
      if (opts.json && !opts.waitReady) throw new UserError("--json needs --wait-ready", "without it the VM runs in the foreground and prints its console");
      const disk = resolveDisk(arg, opts.outputDir);
      if (opts.configMedia !== undefined) inputFile(opts.configMedia, `--config-media ${opts.configMedia}`, { hint: "give a CONFIG media image from `icos config guestos --out FILE`" });
      // Everything the user can get wrong is checked before the KVM probe, which starts QEMU.
      if (!existsSync(OVMF_PATH)) throw new ToolMissingError(OVMF_PATH, "ovmf");
      if (sshPort !== undefined) await freePort(sshPort);

      // Ctrl-C (or a kill) stops QEMU before we exit: no VM outlives us unless --keep asked for it.
      let vm: VmHandle | undefined;
      let interrupted = false;
      const onSignal = (signal: NodeJS.Signals): void => {
        if (interrupted) return;
        interrupted = true;
        process.exitCode = 130;
        console.error(`\n${signal}: stopping the VM`);
        void (vm ? vm.stop() : Promise.resolve()).finally(() => process.exit(130));
      };
      const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
      for (const s of signals) process.on(s, onSignal);
      try {
        const accel = await chooseAccel({ ovmf: OVMF_PATH });
        console.error(describeAccel(accel));
        vm = await startVm({ disk, accel, memoryMiB, cpus, sshPort, configMedia: opts.configMedia, keep: opts.keep });
        console.error(`booting ${disk} (${accel.accel.toUpperCase()}, ${cpus} vCPU${cpus === 1 ? "" : "s"}, ${memoryMiB} MiB), QEMU pid ${vm.pid}`);
        console.error(`serial log: ${vm.serialLog}`);
        if (opts.configMedia !== undefined) console.error(`ssh: ssh -p ${vm.sshPort} admin@127.0.0.1 (with a key from the config media)`);
        else console.error(NO_CONFIG_MEDIA);
        if (opts.waitReady) await waitReady(vm, timeoutSeconds, opts);
        else await foreground(vm, () => interrupted);
      } catch (e) {
        // Stopping QEMU on a signal makes the wait fail ("QEMU exited"): not an error to report.
        if (!interrupted) throw e;
      } finally {
        // Once interrupted, keep ignoring signals until the VM is stopped and we exit.
        if (!interrupted) for (const s of signals) process.off(s, onSignal);
      }
    });
}

async function foreground(vm: VmHandle, interrupted: () => boolean): Promise<void> {
  console.error(`console: socat -,raw,echo=0 UNIX-CONNECT:${vm.serialSocket}`);
  console.error("Ctrl-C stops the VM\n");
  vm.onData(consoleStream((bytes) => process.stdout.write(bytes)));
  const exit = await vm.exited;
  await vm.stop();
  if (interrupted()) return;
  // QEMU exits 0 when the guest powers off, and also on a SIGTERM from elsewhere: show its words.
  const said = (await readFile(vm.qemuLog, "utf8").catch(() => "")).trim().split("\n").slice(-5).join("\n    ");
  console.error(`\nQEMU exited (${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`})` + (said ? `:\n    ${said}` : ""));
  if (exit.code !== 0) process.exitCode = 1;
}

async function waitReady(vm: VmHandle, timeoutSeconds: number, opts: RunOptions): Promise<void> {
  let next = 0;
  let lastReport = 0;
  vm.onLine((line, elapsedMs) => {
    const m = MILESTONES.findIndex((ms, i) => i >= next && ms.pattern.test(line));
    if (m < 0) return;
    next = m + 1;
    lastReport = elapsedMs;
    console.error(`${stamp(elapsedMs)} ${MILESTONES[m]!.name}`);
  });
  const heartbeat = setInterval(() => {
    const elapsed = Date.now() - vm.startedAt;
    if (elapsed - lastReport < HEARTBEAT_MS) return;
    lastReport = elapsed;
    console.error(`${stamp(elapsed)} still waiting for the ready line`);
  }, 1000);
  const summary = { ready: false, seconds: 0, accel: vm.accel.accel, sshPort: vm.sshPort, serialLog: vm.serialLog };
  try {
    const ready = await vm.waitReady(timeoutSeconds * 1000);
    summary.ready = true;
    summary.seconds = Math.round(ready.seconds * 10) / 10;
    console.error(`${stamp(ready.seconds * 1000)} ready`);
  } catch (e) {
    if (!(e instanceof VmError)) throw e;
    summary.seconds = Math.round((Date.now() - vm.startedAt) / 100) / 10;
    await vm.stop();
    // With --json the top-level report prints this summary and { error } as one document.
    throw withJsonFields(e, summary);
  } finally {
    clearInterval(heartbeat);
  }
  if (opts.keep) {
    vm.detach();
    // Someone must start a fresh QEMU when the guest reboots (an upgrade does): a detached supervisor.
    (await start(process.execPath, [...process.execArgv, process.argv[1]!, "vm-supervise", vm.workDir], { detached: true })).unref();
    if (opts.json) printJson({ ...summary, pid: vm.pid });
    else {
      console.log(`ready after ${summary.seconds.toFixed(1)} s (${summary.accel.toUpperCase()}); the VM keeps running`);
      console.log(`  pid ${vm.pid}; stop it with: kill ${vm.pid}`);
      console.log(`  ssh -p ${vm.sshPort} admin@127.0.0.1`);
      console.log(`  work dir: ${vm.workDir}`);
    }
    return;
  }
  await vm.stop();
  if (opts.json) printJson(summary);
  else console.log(`ready after ${summary.seconds.toFixed(1)} s (${summary.accel.toUpperCase()})`);
}
