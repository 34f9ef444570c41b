import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { configJson, CONFIG_MEDIA, README_TEXT, writeConfigMedia } from "../../../src/config/media.ts";
import { readConfigFile } from "../../../src/config/versions.ts";
import { ValidationError } from "../../../src/errors.ts";
import { run } from "../../../src/exec.ts";
import { ROOT } from "../../../src/paths.ts";
import { scratch } from "../../helpers/tmp.ts";

const FIXTURES = join(ROOT, "test/fixtures/config");
const MTOOLS = { MTOOLS_SKIP_CHECK: "1", TZ: "UTC" };
const sha = (f: string): string => createHash("sha256").update(readFileSync(f)).digest("hex");
const readFixture = (v: string): Record<string, any> => readConfigFile(join(FIXTURES, `v${v}.json`)) as Record<string, any>;

/** A well-formed OpenSSH public key line (the blob starts with its type, as real keys do). */
function key(type: string, seed: number, comment = `user${seed}@example`): string {
  const str = (b: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([str(Buffer.from(type)), str(Buffer.alloc(32, seed))]);
  return `${type} ${blob.toString("base64")} ${comment}`;
}
const ADMIN = `# the admin's keys\n${key("ssh-ed25519", 1)}\n${key("ecdsa-sha2-nistp256", 2)}\n`;
const BACKUP = `${key("ssh-rsa", 3)}\n`;

function keysDir(root: string, files: Record<string, string> = { admin: ADMIN, backup: BACKUP }): string {
  const dir = join(root, "keys");
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function problemsOf(o: Parameters<typeof writeConfigMedia>[0]): Promise<string[]> {
  try {
    await writeConfigMedia(o);
  } catch (e) {
    assert.ok(e instanceof ValidationError, `expected a ValidationError, got ${String(e)}`);
    assert.equal(e.file, o.configFile);
    assert.ok(!existsSync(o.out), "no output is written");
    return e.problems;
  }
  return assert.fail("expected a ValidationError");
}

describe("config media: contents and determinism", () => {
  it("the same inputs give the same bytes (other key order, mtimes, config version)", async (t) => {
    const dir = scratch(t);
    const a = join(dir, "a.img");
    const b = join(dir, "b.img");
    const keysA = keysDir(join(dir, "ka"));
    const ra = await writeConfigMedia({ config: readFixture("1.1.0"), configFile: "v1.1.0.json", sshKeysDir: keysA, out: a });
    await new Promise((r) => setTimeout(r, 1100)); // no wall-clock time may show up
    const keysB = keysDir(join(dir, "kb"), { backup: BACKUP, admin: ADMIN });
    utimesSync(join(keysB, "admin"), 1500000000, 1500000000);
    // The same config as 1.0.0, with its keys in another order: the media must not differ.
    const old = readFixture("1.0.0");
    const shuffled = Object.fromEntries(Object.entries(old).reverse());
    const rb = await writeConfigMedia({ config: shuffled, configFile: "v1.0.0.json", sshKeysDir: keysB, out: b });
    assert.equal(sha(a), sha(b));
    assert.equal(readFileSync(a).length, CONFIG_MEDIA.sizeBytes);
    assert.equal(ra.fromVersion, "1.1.0");
    assert.equal(rb.fromVersion, "1.0.0");
    assert.deepEqual(ra.files, ["README.txt", "accounts_ssh_authorized_keys/admin", "accounts_ssh_authorized_keys/backup", "config.json"]);
    assert.deepEqual(readdirSync(dir).sort(), ["a.img", "b.img", "ka", "kb"]); // no temp files left
  });

  it("fsck.vfat is clean; label, volume id, fixed times; config.json and the keys read back", async (t) => {
    const dir = scratch(t);
    const img = join(dir, "config.img");
    const r = await writeConfigMedia({ config: readFixture("1.0.0"), configFile: "v1.0.0.json", sshKeysDir: keysDir(dir), out: img });
    await run("fsck.vfat", ["-n", img]);
    const root = (await run("mdir", ["-i", img, "::/"], { env: MTOOLS })).stdout;
    assert.match(root, /Volume in drive : is CONFIG/);
    assert.match(root, /Volume Serial Number is 1CE5-C0F1/);
    assert.match(root, /\s\d+ 2000-01-01\s+0:00\s+config\.json\n/);
    const keys = (await run("mdir", ["-b", "-i", img, "::/accounts_ssh_authorized_keys"], { env: MTOOLS })).stdout;
    assert.deepEqual(keys.trim().split("\n"), ["::/accounts_ssh_authorized_keys/admin", "::/accounts_ssh_authorized_keys/backup"]);
    const get = async (path: string): Promise<string> => {
      const out = join(dir, path.replace(/\//g, "_"));
      await run("mcopy", ["-i", img, `::/${path}`, out], { env: MTOOLS });
      return readFileSync(out, "utf8");
    };
    const text = await get("config.json");
    assert.equal(text, configJson(r.config));
    assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(r.config)));
    assert.match(text, /^\{\n {2}"config_version": "1\.1\.0",\n {2}"guestos_settings": /);
    assert.equal(await get("accounts_ssh_authorized_keys/admin"), ADMIN);
    assert.equal(await get("accounts_ssh_authorized_keys/backup"), BACKUP);
    assert.equal(await get("README.txt"), README_TEXT);
  });

  it("without ssh keys the media holds config.json and README.txt only", async (t) => {
    const dir = scratch(t);
    const config = readFixture("1.1.0");
    config.icos_settings.use_ssh_authorized_keys = false;
    const r = await writeConfigMedia({ config, configFile: "node.json", out: join(dir, "c.img") });
    assert.deepEqual(r.files, ["README.txt", "config.json"]);
  });
});

describe("config media: every problem before anything is written", () => {
  const cases: [string, Record<string, string> | "none" | "missing-dir", (c: Record<string, any>) => void, (dir: string) => string[]][] = [
    ["missing key file (admin)", { backup: BACKUP }, () => {}, (k) => [`${k}/admin: missing (the admin account's keys are required when ssh keys are given)`]],
    [
      "bad key line",
      { admin: `${key("ssh-ed25519", 1)}\nssh-ed25519 not-a-key me@host\n` },
      () => {},
      (k) => [`${k}/admin:2: expected an OpenSSH public key like "ssh-ed25519 AAAA... comment", got "ssh-ed25519 not-a-key me@host"`],
    ],
    ["unknown key type", { admin: `ssh-dss AAAAB3NzaC1kc3MAAACBAP me\n` }, () => {}, (k) => [`${k}/admin:1: expected a key type (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com), got "ssh-dss"`]],
    [
      "key under the wrong type",
      { admin: key("ssh-ed25519", 1).replace(/^ssh-ed25519/, "ssh-rsa") + "\n" },
      () => {},
      (k) => [`${k}/admin:1: the key data is not a ssh-rsa key (truncated or mixed up?)`],
    ],
    ["CRLF line", { admin: `${key("ssh-ed25519", 1)}\r\n` }, () => {}, (k) => [`${k}/admin:1: ends in a carriage return (Windows line ending); use \\n only`]],
    ["unknown key file", { admin: ADMIN, "id_ed25519.pub": ADMIN }, () => {}, (k) => [`${k}/id_ed25519.pub: unknown file (valid names: admin, readonly, backup)`]],
    ["empty key file", { admin: ADMIN, readonly: "" }, () => {}, (k) => [`${k}/readonly: is empty`]],
    ["comments only", { admin: "# nobody yet\n\n" }, () => {}, (k) => [`${k}/admin: has no keys (only comments and blank lines)`]],
    ["keys dir missing", "missing-dir", () => {}, (k) => [`${k}: no such directory (ssh keys)`]],
    ["use_ssh_authorized_keys without keys", "none", () => {}, () => [`icos_settings.use_ssh_authorized_keys: true, but no ssh keys directory was given (--ssh-keys DIR)`]],
    [
      "keys without use_ssh_authorized_keys",
      { admin: ADMIN },
      (c) => (c.icos_settings.use_ssh_authorized_keys = false),
      (k) => [`icos_settings.use_ssh_authorized_keys: false, but ssh keys were given (${k}); set it to true or leave the keys out`],
    ],
  ];
  for (const [name, files, edit, want] of cases) {
    it(name, async (t) => {
      const dir = scratch(t);
      const config = readFixture("1.1.0");
      edit(config);
      const keys = files === "none" ? undefined : files === "missing-dir" ? join(dir, "keys") : keysDir(dir, files);
      const out = join(dir, "config.img");
      assert.deepEqual(await problemsOf({ config, configFile: "node.json", sshKeysDir: keys, out }), want(join(dir, "keys")));
    });
  }

  it("a key file that is a directory", async (t) => {
    const dir = scratch(t);
    const keys = keysDir(dir, { backup: BACKUP });
    mkdirSync(join(keys, "admin"));
    assert.deepEqual(await problemsOf({ config: readFixture("1.1.0"), configFile: "node.json", sshKeysDir: keys, out: join(dir, "c.img") }), [`${keys}/admin: not a regular file`]);
  });

  it("config, key and output problems all in one error", async (t) => {
    const dir = scratch(t);
    const config = readFixture("1.0.0");
    config.network_settings.ipv6_gateway = "192.0.2.1";
    config.icos_settings.mgmt_mac = "nope";
    const keys = keysDir(dir, { admin: "ssh-ed25519\n", root: ADMIN });
    const out = join(dir, "no-such-dir", "config.img");
    assert.deepEqual(await problemsOf({ config, configFile: "v1.0.0.json", sshKeysDir: keys, out }), [
      `network_settings.ipv6_gateway: expected an IPv6 address (the gateway of an IPv6 network), got "192.0.2.1" (an IPv4 address; this must be IPv6)`,
      `icos_settings.mgmt_mac: expected a MAC address like "70:b5:e8:e8:25:de", got "nope"`,
      `${keys}/admin:1: expected an OpenSSH public key like "ssh-ed25519 AAAA... comment", got "ssh-ed25519"`,
      `${keys}/root: unknown file (valid names: admin, readonly, backup)`,
      `${out}: the directory ${join(dir, "no-such-dir")} does not exist`,
    ]);
  });

  it("a failed write leaves an existing output untouched", async (t) => {
    const dir = scratch(t);
    const out = join(dir, "config.img");
    writeFileSync(out, "old");
    const config = readFixture("1.1.0");
    config.icos_settings.nns_urls = [];
    await assert.rejects(writeConfigMedia({ config, configFile: "node.json", sshKeysDir: keysDir(dir), out }), /icos_settings\.nns_urls: needs at least one URL/);
    assert.equal(readFileSync(out, "utf8"), "old");
  });
});

describe("config media: the node operator key", () => {
  it("is written when use_node_operator_private_key is true and a PEM private key is given; mismatches and non-keys are problems", async (t) => {
    const dir = scratch(t);
    const pem = join(dir, "operator.pem");
    assert.equal((await run("openssl", ["genpkey", "-algorithm", "ed25519", "-out", pem])).code, 0);
    const withFlag = (flag: boolean) => {
      const c = readFixture("1.1.0");
      c.icos_settings.use_node_operator_private_key = flag;
      c.icos_settings.use_ssh_authorized_keys = false;
      return c;
    };
    const out = join(dir, "config.img");
    const r = await writeConfigMedia({ config: withFlag(true), configFile: "node.json", nodeOperatorKey: pem, out });
    assert.ok(r.files.includes("node_operator_private_key.pem"), r.files.join());
    const copy = join(dir, "copy.pem");
    await run("mcopy", ["-i", out, "::node_operator_private_key.pem", copy], { env: MTOOLS });
    assert.deepEqual(readFileSync(copy), readFileSync(pem));

    assert.deepEqual(await problemsOf({ config: withFlag(true), configFile: "node.json", out: join(dir, "a.img") }), [
      "icos_settings.use_node_operator_private_key: true, but no key was given (--node-operator-key FILE)",
    ]);
    assert.deepEqual(await problemsOf({ config: withFlag(false), configFile: "node.json", nodeOperatorKey: pem, out: join(dir, "b.img") }), [
      `icos_settings.use_node_operator_private_key: false, but a key was given (${pem}); set it to true or leave the key out`,
    ]);
    const notKey = join(dir, "not-a-key.pem");
    writeFileSync(notKey, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
    assert.deepEqual(await problemsOf({ config: withFlag(true), configFile: "node.json", nodeOperatorKey: notKey, out: join(dir, "c.img") }), [
      `${notKey}: not an unencrypted PEM private key (openssl pkey cannot read it)`,
    ]);
  });
});
