import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import { icos } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";
import { HOST_TOOLS } from "../../../src/host-tools.ts";
import { checkKvm, FOR_TESTS } from "../../../src/host/doctor.ts";
import { ROOT } from "../../../src/paths.ts";

interface DoctorJson {
  ok: boolean;
  checks: { name: string; need: "required" | "tests"; found: boolean; version?: string; pkg: string }[];
  missing: { required: string[]; tests: string[] };
  kvm: { usable: boolean; accel: string; reason: string };
}

test("icos doctor --json: every tool found on a set-up host, with version, package and whether a command needs it; KVM", () => {
  const r = icos(["doctor", "--json"]);
  assert.equal(r.code, 0, r.stdout);
  const j = JSON.parse(r.stdout) as DoctorJson;
  assert.equal(j.ok, true);
  assert.deepEqual(j.missing, { required: [], tests: [] });
  for (const tool of HOST_TOOLS) {
    const c = j.checks.find((x) => x.name === tool.command);
    assert.ok(c?.found, `${tool.command} found`);
    assert.ok(c.version, `${tool.command} has a version`);
    assert.equal(c.pkg, tool.pkg);
    assert.equal(c.need, FOR_TESTS.has(tool.command) ? "tests" : "required");
  }
  assert.equal(typeof j.kvm.usable, "boolean");
  assert.ok(["kvm", "tcg", "probe"].includes(j.kvm.accel), j.kvm.accel);
  assert.ok(j.kvm.reason.length > 0);
});

test("icos doctor: a missing required tool is MISSING with its package, exit 1; KVM is reported", () => {
  const r = icos(["doctor"], { hideSbin: true });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^MISSING\s+mke2fs\s+e2fsprogs\s+required$/m);
  assert.match(r.stdout, /^warning\s+sgdisk\s+gdisk\s+for tests$/m);
  assert.match(r.stdout, /^ok\s+podman\s/m);
  assert.match(r.stdout, /required missing: install with scripts\/setup-host\.sh \(apt-get install .*\be2fsprogs\b/);
  assert.match(r.stdout, /^kvm: (KVM|TCG|to be probed): /m);
});

test("icos doctor: only test tools missing is a warning, exit 0", (t) => {
  // /usr/sbin hidden (a private mount), the required tools from it copied onto PATH: what stays
  // missing is sgdisk, lvm and cryptsetup, which no command runs.
  const bin = scratch(t);
  for (const tool of HOST_TOOLS) {
    const path = `/usr/sbin/${tool.command}`;
    if (FOR_TESTS.has(tool.command) || !existsSync(path)) continue;
    copyFileSync(realpathSync(path), join(bin, tool.command));
    chmodSync(join(bin, tool.command), 0o755);
  }
  const run = (args: string[]) =>
    spawnSync("unshare", ["--mount", "--propagation", "private", "sh", "-c", 'mount -t tmpfs tmpfs /usr/sbin && exec "$@"', "sh", process.execPath, "--import", "tsx", join(ROOT, "src/cli/main.ts"), "doctor", ...args], {
      cwd: ROOT,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      encoding: "utf8",
    });
  const json = run(["--json"]);
  assert.equal(json.status, 0, json.stdout + json.stderr);
  const j = JSON.parse(json.stdout) as DoctorJson;
  assert.equal(j.ok, true);
  assert.deepEqual(j.missing.required, []);
  assert.ok(j.missing.tests.includes("sgdisk"), j.missing.tests.join(" "));
  const text = run([]);
  assert.equal(text.status, 0, text.stdout);
  assert.match(text.stdout, /^warning\s+sgdisk\s+gdisk\s+for tests$/m);
  assert.match(text.stdout, /^all \d+ required checks passed$/m);
  assert.match(text.stdout, /^warning: \d+ used only by the tests missing: .*sgdisk.* \(apt-get install .*gdisk.*\); icos's commands work without them$/m);
});

describe("checkKvm: what icos run will use, without starting QEMU", () => {
  const kvmCache = (dir: string, entry: object) => writeFileSync(join(dir, "accel.json"), JSON.stringify({ kernel: release(), qemu: "7.2.22", probedAt: "then", ...entry }));

  test("no device: TCG, saying why", (t) => {
    const k = checkKvm({ device: join(scratch(t), "kvm"), env: { ICOS_CACHE_DIR: scratch(t) } });
    assert.equal(k.usable, false);
    assert.equal(k.accel, "tcg");
    assert.match(k.reason, /kvm does not exist .*: icos run uses TCG/);
  });

  test("a device that opens: probe on the first run, else the cached verdict for this kernel and QEMU", (t) => {
    const device = join(scratch(t), "kvm");
    writeFileSync(device, "");
    const cache = scratch(t);
    const env = { ICOS_CACHE_DIR: cache };
    assert.equal(checkKvm({ device, env, qemuVersion: "7.2.22" }).accel, "probe");
    kvmCache(cache, { ok: false, reason: "QEMU crashed (SIGABRT)" });
    const failed = checkKvm({ device, env, qemuVersion: "7.2.22" });
    assert.deepEqual([failed.usable, failed.accel], [true, "tcg"]);
    assert.match(failed.reason, /opens read-write, but the KVM probe failed: QEMU crashed \(SIGABRT\) \(probed then, cached in .*accel\.json\): icos run uses TCG/);
    assert.equal(checkKvm({ device, env, qemuVersion: "8.0.0" }).accel, "probe", "another QEMU: probed again");
    kvmCache(cache, { ok: true, reason: "OVMF reached its boot manager" });
    assert.equal(checkKvm({ device, env, qemuVersion: "7.2.22" }).accel, "kvm");
  });

  test("ICOS_ACCEL decides when set", (t) => {
    const k = checkKvm({ device: join(scratch(t), "kvm"), env: { ICOS_ACCEL: "tcg" } });
    assert.deepEqual([k.accel, k.usable], ["tcg", false]);
    assert.match(k.reason, /^ICOS_ACCEL=tcg chooses it; /);
  });
});

test("no file under src/ runs a tool doctor calls test-only", () => {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".ts")) files.push(path);
    }
  };
  walk(join(ROOT, "src"));
  for (const tool of FOR_TESTS) {
    const call = new RegExp(`\\b(run|start|runSync|which)\\(\\s*"${tool}"|tools:\\s*\\[[^\\]]*"${tool}"`);
    for (const file of files) assert.doesNotMatch(readFileSync(file, "utf8"), call, `${file} runs ${tool}`);
  }
});

test("a command that needs a missing tool names it and its package, no stack trace", async (t) => {
  const { createDiskImage } = await import("../../../src/image/disk.ts");
  const { PARTITION_TYPES } = await import("../../../src/formats/gpt.ts");
  const disk = join(scratch(t), "disk.img");
  await createDiskImage(disk, {
    sectorSize: 512, sizeBytes: 8 << 20, diskGuid: "11111111-2222-3333-4444-555555555555", entryCount: 128, entrySize: 128,
    partitions: [{ index: 1, typeGuid: PARTITION_TYPES.esp, partGuid: "11111111-2222-3333-4444-666666666666", firstLba: 2048, lastLba: 4095, attributes: 0n, name: "esp" }],
  }, []);
  const r = icos(["inspect", disk], { hideSbin: true }); // blkid lives in /usr/sbin
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: required tool 'blkid' is not installed \(Debian package: util-linux\)\n  hint: run scripts\/setup-host\.sh/);
  assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/);
});
