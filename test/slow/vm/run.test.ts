// `icos run` against real QEMU (TCG, or KVM where its probe passes) and real OVMF, with tiny disks
// that hold no OS: a GPT disk whose ESP holds a GRUB EFI binary with an embedded early.cfg that
// prints a line and then halts (QEMU exits) or sleeps. OVMF mirrors its console to the serial
// port, so GRUB's echo reaches serial.log: that is what these tests watch.
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { connect } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { run } from "../../../src/exec.ts";
import { PARTITION_TYPES, type GptDisk } from "../../../src/formats/gpt.ts";
import { nameGuid } from "../../../src/formats/guid.ts";
import { createDiskImage } from "../../../src/image/disk.ts";
import { buildVfat } from "../../../src/image/vfat.ts";
import { ROOT } from "../../../src/paths.ts";
import { icos } from "../../helpers/cli.ts";

const MiB = 1024 * 1024;
const SDE = 1700000000;

// Each variant is the early.cfg GRUB runs; the name becomes the disk's file name.
const VARIANTS = {
  ready: ['echo "icos-ready: state=running failed=0"', "halt"],
  degraded: ['echo "icos-ready: state=degraded failed=1"', "halt"],
  panic: ['echo "Kernel panic - not syncing: test"', "sleep 600"],
  silent: ['echo "hello from grub"', "sleep 600"],
  "ready-then-sleep": ['echo "icos-ready: state=running failed=0"', "sleep 600"],
} as const;
type Variant = keyof typeof VARIANTS;

async function makeDisk(dir: string, name: Variant): Promise<string> {
  const cfg = join(dir, `${name}.cfg`);
  writeFileSync(cfg, VARIANTS[name].join("\n") + "\n");
  const efi = join(dir, name, "BOOTX64.EFI");
  mkdirSync(dirname(efi));
  await run("grub-mkimage", ["-O", "x86_64-efi", "-o", efi, "-c", cfg, "-p", "/EFI/BOOT", "part_gpt", "fat", "normal", "echo", "halt", "sleep"]);
  const esp = join(dir, `${name}.esp`);
  await buildVfat({ out: esp, sizeBytes: 8 * MiB, label: "ESP", volumeId: "1CE50001", files: [{ src: efi, dest: "EFI/BOOT/BOOTX64.EFI" }], sourceDateEpoch: SDE });
  const gpt: GptDisk = {
    sectorSize: 512,
    sizeBytes: 16 * MiB,
    diskGuid: nameGuid(`vm-test-${name}`, "disk"),
    entryCount: 128,
    entrySize: 128,
    partitions: [{ index: 1, typeGuid: PARTITION_TYPES.esp, partGuid: nameGuid(`vm-test-${name}`, "esp"), firstLba: 2048, lastLba: 2048 + (8 * MiB) / 512 - 1, attributes: 0n, name: "ESP" }],
  };
  const disk = join(dir, `${name}.img`);
  await createDiskImage(disk, gpt, [{ index: 1, source: esp }]);
  return disk;
}

const sha256 = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

/** QEMU processes (ours: the probe's or a VM's) whose working directory is under `dir`. */
function qemuUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/comm`, "utf8").startsWith("qemu-system")) continue;
      if (readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) pids.push(Number(pid));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids;
}

const serialLogOf = (stderr: string): string => /^serial log: (.+)$/m.exec(stderr)?.[1] ?? assert.fail(`no serial log path in:\n${stderr}`);

describe("icos run (real QEMU)", () => {
  let dir = "";
  let cache = "";
  const disks = {} as Record<Variant, string>;
  const env = (): Record<string, string> => ({ ICOS_CACHE_DIR: cache });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "icos-vm-test-"));
    cache = join(dir, "cache");
    for (const v of Object.keys(VARIANTS) as Variant[]) disks[v] = await makeDisk(dir, v);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  const noQemuLeft = (t: TestContext): void => {
    t.diagnostic(`checked no QEMU under ${cache}`);
    assert.deepEqual(qemuUnder(cache), [], "a QEMU process was left running");
  };

  test("boots to the ready line, reports the time and accelerator; the image is not modified", (t) => {
    const before = sha256(disks.ready);
    const started = Date.now();
    // ICOS_ACCEL unset: the KVM probe runs (fresh cache dir) and its verdict is reported.
    const r = icos(["run", disks.ready, "--wait-ready", "--timeout", "120"], { env: env() });
    t.diagnostic(`icos run took ${Date.now() - started} ms; stdout: ${r.stdout.trim()}`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ready after \d+\.\d s \((TCG|KVM)\)$/m);
    assert.match(r.stderr, /^using (TCG|KVM): /m);
    assert.match(r.stderr, /\] firmware\n.*\] bootloader\n/);
    // Without /dev/kvm (some machines have no node at all) TCG is chosen without a probe: nothing to cache.
    if (existsSync("/dev/kvm")) assert.ok(existsSync(join(cache, "accel.json")), "the probe's verdict is cached");
    else assert.match(r.stderr, /^using TCG: cannot open \/dev\/kvm/m);
    // OVMF mirrors the console to serial: GRUB's echo is in the log QEMU wrote.
    const serialLog = serialLogOf(r.stderr);
    assert.match(readFileSync(serialLog, "utf8"), /icos-ready: state=running failed=0/);
    assert.ok(!existsSync(join(dirname(serialLog), "overlay.qcow2")), "the overlay is removed");
    assert.ok(!existsSync(join(dirname(serialLog), "vm.json")), "the VM's record goes with it");
    assert.match(dirname(serialLog), /\/vm\/ready-\w{6}$/, "the work dir is named after the disk");
    assert.equal(sha256(disks.ready), before, "the built image changed");
    noQemuLeft(t);
  });

  test("--json reports { ready, seconds, accel, sshPort, serialLog }; the cached probe verdict is reused", () => {
    const r = icos(["run", disks.ready, "--wait-ready", "--timeout", "120", "--json"], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(out), ["ready", "seconds", "accel", "sshPort", "serialLog"]);
    assert.equal(out.ready, true);
    assert.ok(typeof out.seconds === "number" && out.seconds > 0 && out.seconds < 120);
    assert.ok(out.accel === "tcg" || out.accel === "kvm");
    assert.ok(typeof out.sshPort === "number" && out.sshPort > 0);
    assert.ok(existsSync(String(out.serialLog)));
    assert.match(r.stderr, existsSync("/dev/kvm") ? /^using (TCG|KVM): .*\(cached /m : /^using TCG: cannot open \/dev\/kvm/m);
  });

  test("a degraded guest fails (exit 1) and shows its ready line", (t) => {
    const r = icos(["run", disks.degraded, "--wait-ready", "--timeout", "120"], { env: { ...env(), ICOS_ACCEL: "tcg" } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^using TCG: ICOS_ACCEL=tcg$/m);
    assert.match(r.stderr, /the guest reported a failed boot: icos-ready: state=degraded failed=1/);
    assert.doesNotMatch(r.stderr, /internal error/);
    noQemuLeft(t);
  });

  test("a kernel panic fails at once (not at the timeout) with the console tail", (t) => {
    const started = Date.now();
    const r = icos(["run", disks.panic, "--wait-ready", "--timeout", "120", "--json"], { env: { ...env(), ICOS_ACCEL: "tcg" } });
    assert.equal(r.code, 1, r.stderr);
    assert.ok(Date.now() - started < 60_000, "waited for the timeout");
    assert.match(r.stderr, /the guest panicked: Kernel panic - not syncing: test/);
    assert.match(r.stderr, /serial console \(last lines of .*serial\.log\):\n(.*\n)*.*Welcome to GRUB!/);
    assert.deepEqual(JSON.parse(r.stdout).ready, false);
    noQemuLeft(t);
  });

  test("no ready line before --timeout: exit 1 with the console tail", (t) => {
    const r = icos(["run", disks.silent, "--wait-ready", "--timeout", "8"], { env: { ...env(), ICOS_ACCEL: "tcg" } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /timed out after 8 s \(TCG\)/);
    assert.match(r.stderr, /^    hello from grub$/m);
    noQemuLeft(t);
  });

  test("--keep leaves a ready VM running in the background, with its pid; icos ps, console and stop find it", async (t) => {
    const r = icos(["run", disks["ready-then-sleep"], "--wait-ready", "--timeout", "120", "--keep", "--json"], { env: { ...env(), ICOS_ACCEL: "tcg" } });
    assert.equal(r.code, 0, r.stderr);
    const { pid, ready, serialLog, sshPort } = JSON.parse(r.stdout) as { pid: number; ready: boolean; serialLog: string; sshPort: number };
    assert.equal(ready, true);
    assert.deepEqual(qemuUnder(dirname(serialLog)), [pid], "the kept VM is not running");
    // The ssh port is forwarded (slirp accepts the connection even with no sshd in the guest).
    const socket = connect(sshPort, "127.0.0.1");
    await once(socket, "connect");
    socket.destroy();
    assert.ok(existsSync(join(dirname(serialLog), "overlay.qcow2")), "--keep keeps the overlay");
    // The registry: icos ps lists it with the pid and port run printed.
    const ps = icos(["ps", "--json"], { env: env() });
    assert.equal(ps.code, 0, ps.stderr);
    const listed = JSON.parse(ps.stdout) as { name: string; pid: number; sshPort: number; serialLog: string; workDir: string }[];
    assert.deepEqual(listed.map((v) => [v.pid, v.sshPort, v.serialLog, v.workDir]), [[pid, sshPort, serialLog, dirname(serialLog)]]);
    // The serial console through QEMU's own socket: connects, and Ctrl-] detaches at once.
    const con = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "console"], {
      cwd: ROOT,
      env: { ...process.env, ...env() },
      input: "\n\x1d",
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(con.status, 0, con.stderr);
    assert.match(con.stderr, new RegExp(`connected to the serial console of ${listed[0]!.name} .*Ctrl-\\] detaches`));
    assert.match(con.stderr, /detached from .* \(it keeps running\)/);
    assert.deepEqual(qemuUnder(dirname(serialLog)), [pid], "detaching the console does not stop the VM");
    // GRUB does not act on the ACPI power button: the powerdown times out and QEMU gets SIGTERM.
    const started = Date.now();
    const stop = icos(["stop", listed[0]!.name, "--timeout", "3"], { env: env() });
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, new RegExp(`^stopped ${listed[0]!.name} \\(pid ${pid}\\): (QEMU stopped on SIGTERM|the guest powered off) after`, "m"));
    assert.match(stop.stderr, /asked the guest to power off \(ACPI\)/, "the powerdown went through QMP");
    t.diagnostic(`icos stop took ${Date.now() - started} ms`);
    assert.ok(existsSync(join(dirname(serialLog), "overlay.qcow2")), "a kept VM's overlay survives icos stop");
    assert.deepEqual(JSON.parse(icos(["ps", "--json"], { env: env() }).stdout), []);
    noQemuLeft(t);
  });

  test("in the foreground the console is streamed; Ctrl-C stops QEMU (exit 130) and removes the overlay", async (t) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "run", disks.silent], {
      cwd: ROOT,
      env: { ...process.env, ...env(), ICOS_ACCEL: "tcg" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    // A failed assertion below must not leave icos (and its QEMU) running: the runner would wait on it.
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
    });
    for (let i = 0; i < 600 && !stdout.includes("hello from grub"); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(stdout, /hello from grub/, `no console output; stderr:\n${stderr}`);
    assert.doesNotMatch(stdout, /\x1b/, "escape sequences reach the terminal");
    // No CONFIG media given: no ssh line (no key gets in), and a note on how to make one.
    assert.match(stderr, /^no --config-media: .*`icos config guestos --config examples\/qemu-node\.json --out config\.img/m);
    assert.doesNotMatch(stderr, /^ssh: /m);
    const serialLog = serialLogOf(stderr);
    child.kill("SIGINT");
    assert.equal(await exited, 130, stderr);
    assert.ok(!existsSync(join(dirname(serialLog), "overlay.qcow2")), "the overlay is removed");
    noQemuLeft(t);
  });
});
