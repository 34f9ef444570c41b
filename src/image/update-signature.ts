// Signed update images. The signature travels inside the image file: a trailer appended to
// update-img.tar.zst as a zstd skippable frame (magic 0x184D2A50, payload size, payload), which
// zstd and tar skip, so the file stays an ordinary tar.zst. The payload is 1024 bytes of text,
// padded with '#':
//   icos-signature v1
//   target=<the build target it is for, e.g. guestos/prod>
//   sha256=<hex sha256 of every byte before the trailer>
//   key=<hex sha256 of the signing key's public key, DER SubjectPublicKeyInfo>
//   signature=<base64 signature of the statement below>
// The signed statement is "icos-update-image v1\ntarget=<target>\nsha256=<hex>\n" (the target, so
// that a key signing several variants cannot turn a prod node into a dev one), signed with `openssl pkeyutl
// -sign -rawin` by an Ed25519 or ECDSA key (the key stays in openssl; icos never reads it). The
// device (manageboot.sh check_signature) reads the same trailer and verifies with the same openssl.
import { createHash, createPublicKey } from "node:crypto";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { run } from "../exec.ts";
import { sha256File } from "../fs/hash.ts";

export const SIGNATURE_MAGIC = 0x184d2a50;
export const SIGNATURE_PAYLOAD_BYTES = 1024;
export const SIGNATURE_FRAME_BYTES = 8 + SIGNATURE_PAYLOAD_BYTES;
const HEADER = "icos-signature v1";

export interface PublicKey {
  /** PEM text of the SubjectPublicKeyInfo. */
  pem: string;
  /** hex sha256 of the DER SubjectPublicKeyInfo (what `openssl pkey -pubin -outform DER | sha256sum` prints). */
  fingerprint: string;
}

export interface SigningKey extends PublicKey {
  file: string;
}

export interface Signature {
  target: string;
  sha256: string;
  key: string;
  signature: string;
}

/** The statement a signature covers. */
export const signedStatement = (target: string, sha256: string): string => `icos-update-image v1\ntarget=${target}\nsha256=${sha256}\n`;

/** A public key (PEM) checked to be Ed25519 or ECDSA, with its fingerprint. */
export function publicKeyOf(pem: string, what: string): PublicKey {
  let key;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    throw new UserError(`${what}: not a PEM public key (${(e as Error).message})`);
  }
  if (key.asymmetricKeyType !== "ed25519" && key.asymmetricKeyType !== "ec") {
    throw new UserError(`${what}: a ${key.asymmetricKeyType} key; update images are signed with Ed25519 or ECDSA keys`, "make one with: openssl genpkey -algorithm ed25519 -out signing.pem");
  }
  const der = key.export({ type: "spki", format: "der" });
  return { pem: key.export({ type: "spki", format: "pem" }).toString(), fingerprint: createHash("sha256").update(der).digest("hex") };
}

/** --signing-key FILE: an unencrypted Ed25519 or EC private key that openssl can read. */
export async function loadSigningKey(file: string): Promise<SigningKey> {
  const r = await run("openssl", ["pkey", "-in", file, "-pubout", "-passin", "pass:"], { allowFailure: true });
  if (r.code !== 0) {
    throw new UserError(`--signing-key ${file}: openssl cannot read it as an unencrypted private key: ${r.stderr.trim().split("\n")[0] ?? ""}`, "make one with: openssl genpkey -algorithm ed25519 -out signing.pem");
  }
  return { file, ...publicKeyOf(r.stdout, `--signing-key ${file}`) };
}

/** --trust-key FILE: a public key (PEM) the image trusts for its upgrades. */
export async function loadTrustedKey(file: string): Promise<PublicKey> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new UserError(`--trust-key ${file}: cannot read it: ${(e as Error).message}`);
  }
  return publicKeyOf(text, `--trust-key ${file}`);
}

function encodePayload(s: Signature): Buffer {
  const text = `${HEADER}\ntarget=${s.target}\nsha256=${s.sha256}\nkey=${s.key}\nsignature=${s.signature}\n`;
  if (text.length > SIGNATURE_PAYLOAD_BYTES) throw new Error(`signature payload of ${text.length} bytes does not fit ${SIGNATURE_PAYLOAD_BYTES}`);
  const frame = Buffer.alloc(SIGNATURE_FRAME_BYTES, "#");
  frame.writeUInt32LE(SIGNATURE_MAGIC, 0);
  frame.writeUInt32LE(SIGNATURE_PAYLOAD_BYTES, 4);
  frame.write(text, 8, "latin1");
  return frame;
}

/** The signature trailer of an image file, or undefined if it has none. */
export async function readSignature(file: string): Promise<Signature | undefined> {
  const f = await open(file, "r");
  try {
    const { size } = await f.stat();
    if (size <= SIGNATURE_FRAME_BYTES) return undefined;
    const frame = Buffer.alloc(SIGNATURE_FRAME_BYTES);
    await f.read(frame, 0, SIGNATURE_FRAME_BYTES, size - SIGNATURE_FRAME_BYTES);
    if (frame.readUInt32LE(0) !== SIGNATURE_MAGIC || frame.readUInt32LE(4) !== SIGNATURE_PAYLOAD_BYTES) return undefined;
    const lines = frame.subarray(8).toString("latin1").replace(/#+$/, "").split("\n");
    const field = (k: string) => lines.find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1) ?? "";
    if (lines[0] !== HEADER) return undefined;
    return { target: field("target"), sha256: field("sha256"), key: field("key"), signature: field("signature") };
  } finally {
    await f.close();
  }
}

/** Append a signature trailer to `file` (an unsigned update image for `target`), signed with `key` through openssl. */
export async function signUpdateImage(file: string, key: SigningKey, target: string): Promise<Signature> {
  const sha256 = await sha256File(file);
  const work = await mkdtemp(join(tmpdir(), "icos-sign-"));
  try {
    const statement = join(work, "statement");
    const sig = join(work, "signature");
    await writeFile(statement, signedStatement(target, sha256));
    await run("openssl", ["pkeyutl", "-sign", "-inkey", key.file, "-passin", "pass:", "-rawin", "-in", statement, "-out", sig], { context: `sign ${file}` });
    const s: Signature = { target, sha256, key: key.fingerprint, signature: (await readFile(sig)).toString("base64") };
    await appendFile(file, encodePayload(s));
    return s;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
