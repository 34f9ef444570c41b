// A stand-in QEMU (test/fixtures/fake-qemu/main.mjs, run by node through a symlink named
// qemu-system-x86_64, so /proc/PID/comm reads as QEMU's) in a VM work directory, with the record
// startVm would write for it. For fast tests of the registry, `icos ps`, `stop` and `console`.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { ROOT } from "../../src/paths.ts";
import { writeRecord, type VmRecord } from "../../src/vm/registry.ts";

export interface FakeVm {
  rec: VmRecord;
  child: ChildProcess;
  exited: Promise<void>;
}

export interface FakeVmOptions {
  name?: string;
  target?: string;
  powerdown?: "exit" | "ignore";
  sigterm?: "exit" | "ignore";
  keep?: boolean;
  configMedia?: string;
  sshPort?: number;
  /** Write no record (a work directory left by a VM started before records, or by another tool). */
  noRecord?: boolean;
  /** The work directory; default a new <cache>/vm/<name>-XXXXXX. */
  workDir?: string;
}

/** Start a fake VM under `cache`; it is killed when the test ends. */
export async function fakeVm(t: TestContext, cache: string, o: FakeVmOptions = {}): Promise<FakeVm> {
  const bin = join(cache, "fake-bin");
  mkdirSync(bin, { recursive: true });
  const qemu = join(bin, "qemu-system-x86_64");
  if (!existsSync(qemu)) symlinkSync(process.execPath, qemu);
  mkdirSync(join(cache, "vm"), { recursive: true });
  const workDir = o.workDir ?? mkdtempSync(join(cache, "vm", `${o.name ?? "fake"}-`));
  mkdirSync(workDir, { recursive: true });
  writeFileSync(join(workDir, "overlay.qcow2"), "not really an overlay");
  const child = spawn(qemu, [join(ROOT, "test/fixtures/fake-qemu/main.mjs"), `powerdown=${o.powerdown ?? "exit"}`, `sigterm=${o.sigterm ?? "exit"}`], {
    cwd: workDir,
    stdio: "ignore",
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  t.after(() => {
    child.kill("SIGKILL");
    return exited;
  });
  // Ready once both sockets are there.
  for (let i = 0; i < 100 && !(existsSync(join(workDir, "ser.sock")) && existsSync(join(workDir, "qmp.sock"))); i++) await new Promise((r) => setTimeout(r, 50));
  const rec: VmRecord = {
    version: 1,
    name: workDir.split("/").pop()!,
    ...(o.target ? { target: o.target } : {}),
    disk: "/nonexistent/disk.img",
    pid: child.pid!,
    sshPort: o.sshPort ?? 2222,
    workDir,
    serialLog: join(workDir, "serial.log"),
    serialSocket: join(workDir, "ser.sock"),
    qmpSocket: join(workDir, "qmp.sock"),
    qemuLog: join(workDir, "qemu.log"),
    knownHosts: join(workDir, "known_hosts"),
    ...(o.configMedia ? { configMedia: o.configMedia } : {}),
    accel: "tcg",
    keep: o.keep ?? false,
    startedAt: Date.now() - 65_000,
  };
  if (!o.noRecord) writeRecord(rec);
  return { rec, child, exited };
}
