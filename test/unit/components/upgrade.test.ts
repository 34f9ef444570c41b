// The device side of A/B upgrades (ic-os/components/upgrade/opt/ic/bin/manageboot.sh), run on the
// host against regular files standing in for the partitions and the grubenv. The grubenv it
// writes is judged by our decoder and by grub-editenv; the slot it says GRUB boots next must be
// the one the boot protocol table gives (src/model/boot-cycle.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync, copyFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { IC_OS_DIR } from "../../../src/paths.ts";
import { decodeGrubenv, encodeGrubenv } from "../../../src/formats/grubenv.ts";
import { bootOnce, loadBootCycleTable, type Slot } from "../../../src/model/boot-cycle.ts";
import { buildExt4 } from "../../../src/image/ext4.ts";
import { writeTar } from "../../../src/image/tar.ts";
import { UPDATE_IMAGE_MEMBERS, writeUpdateImage } from "../../../src/image/update-image.ts";
import { scratch } from "../../helpers/tmp.ts";

const MANAGEBOOT = join(IC_OS_DIR, "components/upgrade/opt/ic/bin/manageboot.sh");
const MIB = 1 << 20;
const SDE = 1_700_000_000;

interface Device {
  dir: string;
  parts: string;
  grubenv: string;
  env: NodeJS.ProcessEnv;
  /** Run manageboot.sh as the slot `slot` (dfinity.system= on the fake kernel command line). */
  run(args: string[], o?: { slot?: Slot; input?: Buffer }): { code: number; stdout: string; stderr: string };
  part(name: string): Buffer;
  env_(): Map<string, string>;
}

function device(dir: string, grubenv: Record<string, string> = { boot_alternative: "A", boot_cycle: "stable" }): Device {
  const parts = join(dir, "parts");
  mkdirSync(parts, { recursive: true });
  // Old contents the install must overwrite (0x55) and a var whose start it must wipe (0xff).
  for (const s of ["A", "B"]) {
    writeFileSync(join(parts, `${s}_boot`), Buffer.alloc(8 * MIB, 0x55));
    writeFileSync(join(parts, `${s}_root`), Buffer.alloc(4 * MIB, 0x55));
    writeFileSync(join(parts, `${s}_var`), Buffer.alloc(20 * MIB, 0xff));
  }
  const file = join(dir, "grubenv");
  writeFileSync(file, encodeGrubenv(grubenv));
  writeFileSync(join(dir, "version.txt"), "1.0.0\n");
  const env = {
    ...process.env,
    MANAGEBOOT_PARTS: parts,
    MANAGEBOOT_GRUBENV: file,
    MANAGEBOOT_VERSION_FILE: join(dir, "version.txt"),
    MANAGEBOOT_STAGE: join(dir, "stage"),
    MANAGEBOOT_LOCK: join(dir, "lock"),
    MANAGEBOOT_REBOOT: `touch ${join(dir, "rebooted")}`,
    PATH: `/usr/sbin:/sbin:${process.env.PATH}`,
  };
  return {
    dir,
    parts,
    grubenv: file,
    env,
    run(args, o = {}) {
      writeFileSync(join(dir, "cmdline"), `BOOT_IMAGE=/vmlinuz root=PARTUUID=x dfinity.system=${o.slot ?? "A"} console=ttyS0\n`);
      const r = spawnSync(MANAGEBOOT, args, { env: { ...env, MANAGEBOOT_CMDLINE: join(dir, "cmdline") }, input: o.input, encoding: "utf8" });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    part: (name) => readFileSync(join(parts, name)),
    env_: () => decodeGrubenv(readFileSync(file)),
  };
}

interface UpdateImage {
  file: string;
  sha256: string;
  boot: Buffer;
  root: Buffer;
}

/** An update-img.tar.zst like the build makes: an ext4 boot.img carrying version.txt, a sparse root.img. */
async function updateImage(dir: string, version: string, o: { rootBytes?: number; omit?: (typeof UPDATE_IMAGE_MEMBERS)[number] } = {}): Promise<UpdateImage> {
  const work = join(dir, `update-${version}`);
  mkdirSync(join(work, "tree"), { recursive: true });
  writeFileSync(join(work, "tree/version.txt"), version + "\n");
  await buildExt4({ tree: join(work, "tree"), out: join(work, "boot.img"), sizeBytes: 4 * MIB, label: "boot", uuid: "0b0b0b0b-0000-4000-8000-000000000001", sourceDateEpoch: SDE, blockSize: 1024 });
  // Data, a long zero run (stored as a hole), data: the device must write the zeros too.
  const root = Buffer.alloc(o.rootBytes ?? 3 * MIB);
  randomBytes(4096).copy(root, 0);
  randomBytes(4096).copy(root, root.length - 4096);
  writeFileSync(join(work, "root.img"), root);
  const file = join(dir, `update-img-${version}.tar.zst`);
  const images = { out: file, version, bootImg: join(work, "boot.img"), rootImg: join(work, "root.img"), mtime: SDE };
  if (o.omit) {
    // Not an update image: the same tar with one member left out.
    writeFileSync(join(work, "VERSION.TXT"), version + "\n");
    const entries = UPDATE_IMAGE_MEMBERS.filter((n) => n !== o.omit).map((n) => ({ path: n, type: "file" as const, source: join(work, n) }));
    await writeTar({ out: file, entries, mtime: SDE, compress: "zstd", sparse: true });
  } else await writeUpdateImage(images);
  const sha256 = createHash("sha256").update(readFileSync(file)).digest("hex");
  return { file, sha256, boot: readFileSync(join(work, "boot.img")), root };
}

const startsWith = (part: Buffer, image: Buffer) => part.subarray(0, image.length).equals(image);

function grubEditenvList(file: string): Map<string, string> {
  const r = spawnSync("grub-editenv", [file, "list"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return new Map(r.stdout.trim().split("\n").map((l) => l.split("=", 2) as [string, string]));
}

test("upgrade-install writes the target slot, wipes its var and marks the install; commit and confirm finish it", async (t) => {
  const dir = scratch(t, "icos-manageboot-");
  const dev = device(dir);
  const upd = await updateImage(dir, "2.0.0");
  const before = { aBoot: dev.part("A_boot"), aRoot: dev.part("A_root"), aVar: dev.part("A_var") };

  assert.equal(dev.run(["current"]).stdout, "A\n");
  assert.equal(dev.run(["target"]).stdout, "B\n");
  assert.equal(dev.run(["current"], { slot: "B" }).stdout, "B\n");

  const r = dev.run(["upgrade-install", upd.file, upd.sha256.toUpperCase()]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /installing version 2\.0\.0 into slot B/);
  assert.ok(startsWith(dev.part("B_boot"), upd.boot), "B_boot holds boot.img");
  assert.ok(startsWith(dev.part("B_root"), upd.root), "B_root holds root.img, zero run included");
  const bVar = dev.part("B_var");
  assert.ok(bVar.subarray(0, 16 * MIB).equals(Buffer.alloc(16 * MIB)), "the first 16 MiB of B_var are zero");
  assert.equal(bVar[16 * MIB], 0xff, "B_var beyond 16 MiB is untouched");
  assert.equal(bVar.length, 20 * MIB);
  assert.deepEqual({ aBoot: dev.part("A_boot"), aRoot: dev.part("A_root"), aVar: dev.part("A_var") }, before, "slot A untouched");
  // Byte-identical to our encoder's block, and grub-editenv reads the same variables.
  assert.deepEqual(readFileSync(dev.grubenv), encodeGrubenv({ boot_alternative: "A", boot_cycle: "install" }));
  assert.deepEqual(grubEditenvList(dev.grubenv), new Map([["boot_alternative", "A"], ["boot_cycle", "install"]]));
  assert.equal(existsSync(join(dev.env.MANAGEBOOT_STAGE!, "update-img.tar.zst")), false, "the staged copy is removed");

  const status = dev.run(["status"]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^current=A\ntarget=B\nboot_alternative=A\nboot_cycle=install\nnext=A\nversion=1\.0\.0\nversion_A=none\nversion_B=2\.0\.0\n$/);

  const c = dev.run(["upgrade-commit"]);
  assert.equal(c.code, 0, c.stderr);
  assert.ok(existsSync(join(dir, "rebooted")), "commit reboots");
  assert.deepEqual([...dev.env_()], [["boot_alternative", "B"], ["boot_cycle", "first_boot"]]);
  assert.equal(dev.run(["next"]).stdout, "B\n");

  // GRUB's boot (the table), then the new system confirms itself.
  const booted = bootOnce(loadBootCycleTable(), Object.fromEntries(dev.env_()));
  assert.equal(booted.slot, "B");
  writeFileSync(dev.grubenv, encodeGrubenv({ ...booted.env }));
  const ok = dev.run(["confirm"], { slot: "B" });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /slot B confirmed/);
  assert.deepEqual(readFileSync(dev.grubenv), encodeGrubenv({ boot_alternative: "B", boot_cycle: "stable" }));
  assert.match(dev.run(["confirm"], { slot: "B" }).stderr, /already stable/);
});

test("a corrupted, truncated or incomplete update image is refused before anything is written", async (t) => {
  const dir = scratch(t, "icos-manageboot-");
  const dev = device(dir);
  const upd = await updateImage(dir, "2.0.0");
  const snapshot = () => ["B_boot", "B_root", "B_var"].map((p) => createHash("sha256").update(dev.part(p)).digest("hex")).join() + readFileSync(dev.grubenv).toString("hex");
  const before = snapshot();
  const refused = (args: string[], why: RegExp, input?: Buffer) => {
    const r = dev.run(args, { input });
    assert.equal(r.code, 1, `${args.join(" ")} should be refused:\n${r.stderr}`);
    assert.match(r.stderr, why);
    assert.doesNotMatch(r.stderr, /writing/);
    assert.equal(snapshot(), before, `${args.join(" ")} changed a partition or grubenv`);
  };

  // A bit flipped in the middle: the given sha256 no longer matches (file and stdin).
  const corrupt = join(dir, "corrupt.tar.zst");
  const bytes = readFileSync(upd.file);
  const mid = bytes.length >> 1;
  bytes[mid] = bytes[mid]! ^ 0x40;
  writeFileSync(corrupt, bytes);
  refused(["upgrade-install", corrupt, upd.sha256], /sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}.*nothing written/);
  refused(["upgrade-install", "-", upd.sha256], /sha256 mismatch/, bytes);
  // Truncated, even with the sha256 of the truncated file: not a readable archive.
  const truncated = join(dir, "truncated.tar.zst");
  copyFileSync(upd.file, truncated);
  truncateSync(truncated, Math.floor(bytes.length * 0.6));
  const truncatedSha = createHash("sha256").update(readFileSync(truncated)).digest("hex");
  refused(["upgrade-install", truncated, upd.sha256], /sha256 mismatch/);
  refused(["upgrade-install", truncated, truncatedSha], /not a readable tar\.zst|has no root\.img/);
  // A well-formed archive without root.img, and one whose root.img is larger than the partition.
  const noRoot = await updateImage(dir, "2.0.1", { omit: "root.img" });
  refused(["upgrade-install", noRoot.file, noRoot.sha256], /update image has no root\.img/);
  const big = await updateImage(dir, "2.0.2", { rootBytes: 5 * MIB });
  refused(["upgrade-install", big.file, big.sha256], /root\.img is 5242880 bytes, partition B_root only 4194304/);
  refused(["upgrade-install", upd.file, "abc"], /sha256 must be 64 hex digits/);
  refused(["upgrade-install", join(dir, "missing"), upd.sha256], /no such file/);
});

test("manageboot refuses steps out of order", async (t) => {
  const dir = scratch(t, "icos-manageboot-");
  const upd = await updateImage(dir, "2.0.0");
  // Nothing installed: nothing to commit.
  const fresh = device(join(dir, "fresh"));
  assert.match(fresh.run(["upgrade-commit"]).stderr, /no completed install to commit/);
  assert.equal(existsSync(join(fresh.dir, "rebooted")), false);
  // Booted B after an upgrade but not confirmed yet: A is the fallback and must not be overwritten.
  const unconfirmed = device(join(dir, "unconfirmed"), { boot_alternative: "B", boot_cycle: "failsafe_check" });
  const r = unconfirmed.run(["upgrade-install", upd.file, upd.sha256], { slot: "B" });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /slot B is not confirmed yet \(boot_cycle=failsafe_check\): slot A is its fallback/);
  // Committed, reboot pending: running A while grubenv says B.
  const pending = device(join(dir, "pending"), { boot_alternative: "B", boot_cycle: "first_boot" });
  assert.match(pending.run(["upgrade-install", upd.file, upd.sha256]).stderr, /an upgrade is committed and waits for its reboot/);
  assert.match(pending.run(["confirm"]).stderr, /not confirming/);
  assert.equal(pending.run(["nonsense"]).code, 2);
});

test("manageboot keeps other grubenv variables and agrees with the boot protocol table on the next slot", (t) => {
  const table = loadBootCycleTable();
  for (const slot of ["A", "B"] as const) {
    for (const cycle of [...table.transitions.map((x) => x.boot_cycle), "bogus"]) {
      const dir = scratch(t, "icos-manageboot-");
      const dev = device(dir, { boot_alternative: slot, saved_entry: "1", boot_cycle: cycle });
      assert.equal(dev.run(["next"]).stdout.trim(), bootOnce(table, { boot_alternative: slot, boot_cycle: cycle }).slot, `${slot}/${cycle}`);
      if (cycle === "failsafe_check") {
        assert.equal(dev.run(["confirm"], { slot }).code, 0);
        assert.deepEqual([...dev.env_()], [["boot_alternative", slot], ["boot_cycle", "stable"], ["saved_entry", "1"]]);
      }
    }
  }
});
