// The device side of A/B upgrades (ic-os/components/upgrade/opt/ic/bin/manageboot.sh), run on the
// host against regular files standing in for the partitions and the grubenv. The grubenv it
// writes is judged by our decoder and by grub-editenv; the slot it says GRUB boots next must be
// the one the boot protocol table gives (src/model/boot-cycle.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, truncateSync, writeFileSync, copyFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { encodeGrubenv } from "../../../src/formats/grubenv.ts";
import { bootOnce, loadBootCycleTable } from "../../../src/model/boot-cycle.ts";
import { device, MIB, updateImage } from "../../helpers/manageboot.ts";
import { scratch } from "../../helpers/tmp.ts";

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

test("upgrade-install writes only the image's data: runs close together merged, far apart separate, the rest zeroed", async (t) => {
  const dir = scratch(t, "icos-manageboot-");
  const dev = device(dir);
  // Data at 0 and 512 KiB (one write), at 2.5 MiB, and in the last block; the device held 0x55 before.
  const upd = await updateImage(dir, "2.0.0", { rootBytes: 4 * MIB, rootData: [0, 512 * 1024, 2.5 * MIB, 4 * MIB - 4096] });
  const r = dev.run(["upgrade-install", upd.file, upd.sha256]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(startsWith(dev.part("B_root"), upd.root), "B_root holds root.img, its zeros included");
  const extents = /writing root\.img to \S+: (\d+) MiB of data in (\d+) extents/.exec(r.stderr);
  assert.ok(extents, r.stderr);
  assert.equal(extents[2], "3", "three writes: the two runs 512 KiB apart are one");
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
  refused(["upgrade-install", truncated, truncatedSha], /not a readable tar\.zst|must be exactly/);
  // A well-formed archive without root.img, and one whose root.img is larger than the partition.
  const noRoot = await updateImage(dir, "2.0.1", { omit: "root.img" });
  refused(["upgrade-install", noRoot.file, noRoot.sha256], /update image members are VERSION\.TXT boot\.img but must be exactly: VERSION\.TXT boot\.img root\.img/);
  const big = await updateImage(dir, "2.0.2", { rootBytes: 5 * MIB });
  refused(["upgrade-install", big.file, big.sha256], /root\.img is 5242880 bytes, slot B.s root device \S+\/B_root only 4194304/);
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
