// What manageboot.sh trusts in an update image (run on the host against stand-in files, as
// upgrade.test.ts does): exact member names, signatures by the image's trusted keys (Ed25519 and
// ECDSA, made with `icos build --signing-key`'s signer), the unsigned policy of prod and dev images,
// downgrades, and the lock that status polls and confirm share.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { IC_OS_DIR } from "../../../src/paths.ts";
import { encodeGrubenv } from "../../../src/formats/grubenv.ts";
import { writeTar } from "../../../src/image/tar.ts";
import { loadSigningKey, signUpdateImage, SIGNATURE_FRAME_BYTES } from "../../../src/image/update-signature.ts";
import { device, updateImage, type Device } from "../../helpers/manageboot.ts";
import { scratch } from "../../helpers/tmp.ts";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const fileSha = (f: string) => sha256(readFileSync(f));

/** B's partitions and grubenv, to prove a refusal wrote nothing. */
const snapshot = (dev: Device) => ["B_boot", "B_root", "B_var"].map((p) => sha256(dev.part(p))).join() + sha256(readFileSync(dev.grubenv));

function refused(dev: Device, args: string[], why: RegExp): void {
  const before = snapshot(dev);
  const r = dev.run(args);
  assert.equal(r.code, 1, `${args.join(" ")} should be refused:\n${r.stderr}`);
  assert.match(r.stderr, why);
  assert.doesNotMatch(r.stderr, /writing/);
  assert.equal(snapshot(dev), before, `${args.join(" ")} changed a partition or grubenv`);
}

function installed(dev: Device, args: string[], said: RegExp = /slot B holds version/): string {
  const r = dev.run(args);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, said);
  return r.stderr;
}

/** A key pair made by openssl; the public key is put where the stand-in image keeps trusted keys when `trust`. */
async function keyPair(dir: string, name: string, algorithm: string[], trust?: Device) {
  const file = join(dir, `${name}.pem`);
  const r = spawnSync("openssl", ["genpkey", ...algorithm, "-out", file], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const key = await loadSigningKey(file);
  if (trust) writeFileSync(join(trust.dir, "keys", `${key.fingerprint.slice(0, 16)}.pem`), key.pem);
  return key;
}
const ED25519 = ["-algorithm", "ed25519"];
const ECDSA = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];

test("member names must be exactly VERSION.TXT, boot.img and root.img: 'x root.img' is refused before boot.img is written", async (t) => {
  const dir = scratch(t, "icos-trust-");
  const dev = device(dir);
  const upd = await updateImage(dir, "2.0.0");
  const work = join(dir, "members");
  spawnSync("mkdir", ["-p", work]);
  spawnSync("tar", ["--zstd", "-xf", upd.file, "-C", work]);
  const crafted = async (name: string, members: [string, string][]) => {
    const out = join(dir, `${name}.tar.zst`);
    await writeTar({ out, entries: members.map(([path, src]) => ({ path, type: "file" as const, source: join(work, src) })), mtime: 0, compress: "zstd", sparse: true });
    return out;
  };
  const suffix = await crafted("suffix", [["VERSION.TXT", "VERSION.TXT"], ["boot.img", "boot.img"], ["x root.img", "root.img"]]);
  refused(dev, ["upgrade-install", suffix, fileSha(suffix)], /members are VERSION\.TXT boot\.img x root\.img but must be exactly/);
  // GNU tar stores a file named twice twice (our writer refuses to).
  const twice = join(dir, "twice.tar.zst");
  assert.equal(spawnSync("sh", ["-c", `tar -cf - -C ${work} VERSION.TXT boot.img root.img root.img | zstd -q -o ${twice}`]).status, 0);
  refused(dev, ["upgrade-install", twice, fileSha(twice)], /must be exactly/);
  const extra = await crafted("extra", [["VERSION.TXT", "VERSION.TXT"], ["boot.img", "boot.img"], ["root.img", "root.img"], ["run-me.sh", "VERSION.TXT"]]);
  refused(dev, ["upgrade-install", extra, fileSha(extra)], /must be exactly/);
});

test("a prod image installs only images signed by a key it trusts (Ed25519 or ECDSA)", async (t) => {
  const dir = scratch(t, "icos-trust-");
  const dev = device(dir, undefined, { unsigned: "refuse", target: "guestos/prod" });
  const ed = await keyPair(dir, "ed", ED25519, dev);
  const ec = await keyPair(dir, "ec", ECDSA, dev);
  const stranger = await keyPair(dir, "stranger", ED25519);

  const unsigned = await updateImage(dir, "2.0.0");
  refused(dev, ["upgrade-install", unsigned.file, unsigned.sha256], /the update image is not signed; this image installs only update images signed by one of its trusted keys \([0-9a-f]{16}, [0-9a-f]{16}\)/);

  const byStranger = await updateImage(dir, "2.0.1");
  await signUpdateImage(byStranger.file, stranger, "guestos/prod");
  refused(dev, ["upgrade-install", byStranger.file, fileSha(byStranger.file)], new RegExp(`signed by key ${stranger.fingerprint.slice(0, 16)}, which this image does not trust`));

  // Signed by a trusted key, but for another target: a dev image would let unsigned images in.
  const forDev = await updateImage(dir, "2.0.2");
  await signUpdateImage(forDev.file, ed, "guestos/dev-malicious");
  refused(dev, ["upgrade-install", forDev.file, fileSha(forDev.file)], /signed for guestos\/dev-malicious, but this image is guestos\/prod; this image installs only update images signed/);

  for (const [key, version] of [[ed, "2.1.0"], [ec, "2.2.0"]] as const) {
    const signed = await updateImage(dir, version);
    await signUpdateImage(signed.file, key, "guestos/prod");
    // Still an ordinary tar.zst for every tool.
    assert.equal(spawnSync("tar", ["--zstd", "-xOf", signed.file, "VERSION.TXT"], { encoding: "utf8" }).stdout, `${version}\n`);
    const said = installed(dev, ["upgrade-install", signed.file, fileSha(signed.file)]);
    assert.match(said, new RegExp(`signature verified: trusted key ${key.fingerprint.slice(0, 16)}`));
    assert.ok(dev.part("B_boot").subarray(0, signed.boot.length).equals(signed.boot));
  }
});

test("a signed image altered after signing, or with a forged trailer, is refused even where unsigned images are allowed", async (t) => {
  const dir = scratch(t, "icos-trust-");
  const dev = device(dir, undefined, { unsigned: "allow" });
  const key = await keyPair(dir, "ed", ED25519, dev);
  const upd = await updateImage(dir, "2.0.0");
  await signUpdateImage(upd.file, key, "guestos/dev");
  const bytes = readFileSync(upd.file);

  // One byte of the archive changed, and the attacker passes the sha256 of the altered file.
  const altered = Buffer.from(bytes);
  altered[100] = altered[100]! ^ 0x01;
  writeFileSync(join(dir, "altered.tar.zst"), altered);
  refused(dev, ["upgrade-install", join(dir, "altered.tar.zst"), sha256(altered)], /the signature covers sha256 [0-9a-f]{64} but the image is [0-9a-f]{64} \(altered after signing\)/);

  // The archive's sha256 kept, the signature bytes changed.
  const text = bytes.subarray(bytes.length - SIGNATURE_FRAME_BYTES).toString("latin1");
  const forgedSig = text.replace(/signature=([A-Za-z0-9+/])/, (_m, c: string) => `signature=${c === "A" ? "B" : "A"}`);
  const forged = Buffer.concat([bytes.subarray(0, bytes.length - SIGNATURE_FRAME_BYTES), Buffer.from(forgedSig, "latin1")]);
  writeFileSync(join(dir, "forged.tar.zst"), forged);
  refused(dev, ["upgrade-install", join(dir, "forged.tar.zst"), sha256(forged)], /signature does not verify with trusted key/);

  // A trailer that is not ours at all.
  const junk = Buffer.concat([bytes.subarray(0, bytes.length - SIGNATURE_FRAME_BYTES), bytes.subarray(bytes.length - SIGNATURE_FRAME_BYTES, bytes.length - SIGNATURE_FRAME_BYTES + 8), Buffer.alloc(1024, "x")]);
  writeFileSync(join(dir, "junk.tar.zst"), junk);
  refused(dev, ["upgrade-install", join(dir, "junk.tar.zst"), sha256(junk)], /signature trailer is malformed/);
});

test("a dev image installs an unsigned image, and says so on the console", async (t) => {
  const dir = scratch(t, "icos-trust-");
  const dev = device(dir, undefined, { unsigned: "allow" });
  const upd = await updateImage(dir, "2.0.0");
  const said = installed(dev, ["upgrade-install", upd.file, upd.sha256]);
  assert.match(said, /WARNING: the update image is not signed; this dev image accepts unsigned update images/);
  assert.match(readFileSync(join(dir, "console"), "utf8"), /WARNING: installing an update image that is not signed by a trusted key/);
});

test("an older version is refused unless --allow-downgrade; a bad VERSION.TXT is refused", async (t) => {
  const dir = scratch(t, "icos-trust-");
  const dev = device(dir); // runs 1.0.0
  const old = await updateImage(dir, "0.9.0");
  refused(dev, ["upgrade-install", old.file, old.sha256], /version 0\.9\.0 is older than the running 1\.0\.0: refusing a downgrade/);
  const said = installed(dev, ["upgrade-install", old.file, old.sha256, "--allow-downgrade"]);
  assert.match(said, /downgrade from 1\.0\.0 to 0\.9\.0 allowed/);
  const weird = await updateImage(dir, "1.0.0;reboot");
  refused(dev, ["upgrade-install", weird.file, weird.sha256], /VERSION\.TXT holds no valid version/);
});

test("confirm waits for a lock another manageboot holds (a status poll), and gives up after its bound", async (t) => {
  const dir = scratch(t, "icos-trust-");
  const dev = device(dir, { boot_alternative: "B", boot_cycle: "failsafe_check" });
  const hold = (seconds: number) => {
    const p = spawn("flock", [dev.env.MANAGEBOOT_LOCK!, "sleep", String(seconds)], { stdio: "ignore" });
    return new Promise((r) => p.once("close", r));
  };
  // Wait until the holder has the lock, then confirm while it still holds it for ~3 s.
  const held = hold(3);
  await new Promise((r) => setTimeout(r, 300));
  const started = Date.now();
  const r = dev.run(["confirm"], { slot: "B" });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Date.now() - started >= 2000, "confirm waited for the lock");
  assert.deepEqual(readFileSync(dev.grubenv), encodeGrubenv({ boot_alternative: "B", boot_cycle: "stable" }));
  await held;

  const busy = hold(5);
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  const late = spawnSync(join(IC_OS_DIR, "components/upgrade/opt/ic/bin/manageboot.sh"), ["status"], {
    env: { ...dev.env, MANAGEBOOT_LOCK_WAIT: "1", MANAGEBOOT_CMDLINE: join(dir, "cmdline") },
    encoding: "utf8",
  });
  assert.equal(late.status, 1);
  assert.match(late.stderr, /another manageboot held the lock for more than 1 s/);
  assert.ok(Date.now() - t0 < 4000);
  await busy;
});

test("icos-confirm retries a failed confirm and reports when it gives up", (t) => {
  const dir = scratch(t, "icos-trust-");
  // A manageboot that reports an upgrade's first boot and fails `confirm` a given number of times.
  const fake = join(dir, "manageboot.sh");
  writeFileSync(
    fake,
    `#!/bin/sh\ncase $1 in\n  status) printf 'current=B\\nboot_cycle=failsafe_check\\nversion=2.0.0\\n' ;;\n  confirm) n=$(cat ${dir}/n 2>/dev/null || echo 0); echo $((n + 1)) > ${dir}/n; [ $((n + 1)) -gt "$FAILS" ] ;;\nesac\n`,
  );
  chmodSync(fake, 0o755);
  const confirm = (fails: number) => {
    spawnSync("rm", ["-f", join(dir, "n")]);
    return spawnSync(join(IC_OS_DIR, "components/upgrade/opt/ic/bin/icos-confirm.sh"), [], {
      env: { ...process.env, MANAGEBOOT: fake, FAILS: String(fails), ICOS_CONSOLE: join(dir, "console"), ICOS_CONFIRM_STATE: "running", ICOS_CONFIRM_RETRY_SECONDS: "0", MANAGEBOOT_REBOOT: "false" },
      encoding: "utf8",
    });
  };
  assert.equal(confirm(2).status, 0);
  assert.match(readFileSync(join(dir, "console"), "utf8"), /confirm failed \(attempt 2 of 5\); retrying[\s\S]*slot B confirmed: version 2\.0\.0/);
  assert.equal(confirm(9).status, 1);
  assert.match(readFileSync(join(dir, "console"), "utf8"), /confirm failed 5 times/);
});
