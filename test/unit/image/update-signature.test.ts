// The signature trailer of update images: openssl is the oracle for the fingerprint and the
// signature, tar and zstd for "still an ordinary tar.zst".
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../../src/errors.ts";
import { writeTar } from "../../../src/image/tar.ts";
import { loadSigningKey, readSignature, SIGNATURE_FRAME_BYTES, signedStatement, signUpdateImage } from "../../../src/image/update-signature.ts";
import { scratch } from "../../helpers/tmp.ts";

function genkey(dir: string, name: string, args: string[]): string {
  const file = join(dir, `${name}.pem`);
  const r = spawnSync("openssl", ["genpkey", ...args, "-out", file], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return file;
}

async function archive(dir: string): Promise<string> {
  writeFileSync(join(dir, "VERSION.TXT"), "1.2.3\n");
  const out = join(dir, "update-img.tar.zst");
  await writeTar({ out, entries: [{ path: "VERSION.TXT", type: "file", source: join(dir, "VERSION.TXT") }], mtime: 0, compress: "zstd", sparse: true });
  return out;
}

for (const [name, args] of [["ed25519", ["-algorithm", "ed25519"]], ["ecdsa", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]]] as const) {
  test(`a ${name} signature: openssl agrees on the key fingerprint and verifies the signature; zstd and tar skip the trailer`, async (t) => {
    const dir = scratch(t);
    const keyFile = genkey(dir, name, [...args]);
    const key = await loadSigningKey(keyFile);
    const der = spawnSync("sh", ["-c", `openssl pkey -in ${keyFile} -pubout -outform DER | sha256sum`], { encoding: "utf8" });
    assert.equal(key.fingerprint, der.stdout.slice(0, 64));

    const file = await archive(dir);
    const before = readFileSync(file);
    const s = await signUpdateImage(file, key, "guestos/prod");
    const after = readFileSync(file);
    assert.equal(after.length, before.length + SIGNATURE_FRAME_BYTES);
    assert.deepEqual(after.subarray(0, before.length), before, "the archive's bytes are unchanged");
    assert.deepEqual(await readSignature(file), s);
    assert.equal(spawnSync("zstd", ["-tq", file]).status, 0);
    assert.equal(spawnSync("tar", ["--zstd", "-xOf", file, "VERSION.TXT"], { encoding: "utf8" }).stdout, "1.2.3\n");

    writeFileSync(join(dir, "statement"), signedStatement("guestos/prod", s.sha256));
    assert.equal(s.target, "guestos/prod");
    writeFileSync(join(dir, "sig"), Buffer.from(s.signature, "base64"));
    writeFileSync(join(dir, "pub.pem"), key.pem);
    const verify = spawnSync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", join(dir, "pub.pem"), "-rawin", "-in", join(dir, "statement"), "-sigfile", join(dir, "sig")], { encoding: "utf8" });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  });
}

test("Ed25519 signatures are deterministic: a signed build stays reproducible", async (t) => {
  const dir = scratch(t);
  const key = await loadSigningKey(genkey(dir, "ed", ["-algorithm", "ed25519"]));
  const a = await archive(dir);
  const b = join(dir, "b.tar.zst");
  copyFileSync(a, b);
  await signUpdateImage(a, key, "guestos/prod");
  await signUpdateImage(b, key, "guestos/prod");
  assert.deepEqual(readFileSync(a), readFileSync(b));
  assert.equal(await readSignature(join(dir, "VERSION.TXT")), undefined, "a file without a trailer has no signature");
});

test("a signing key that is not Ed25519 or ECDSA, or not a key, is a user error naming the flag", async (t) => {
  const dir = scratch(t);
  const rsa = genkey(dir, "rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]);
  await assert.rejects(loadSigningKey(rsa), (e: unknown) => e instanceof UserError && /--signing-key .*: a rsa key; update images are signed with Ed25519 or ECDSA keys/.test(e.message));
  writeFileSync(join(dir, "junk.pem"), "not a key\n");
  await assert.rejects(loadSigningKey(join(dir, "junk.pem")), (e: unknown) => e instanceof UserError && /openssl cannot read it as an unencrypted private key/.test(e.message));
});
