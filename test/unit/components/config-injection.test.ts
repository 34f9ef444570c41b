// The boot services that take the CONFIG media, run on the host against directories standing in
// for the media, /boot/config, /run/config and /run/ic-node: a hostile media is refused with the
// field named and nothing of it kept or run; secrets end up root-only (and the node operator key
// readable by its one account); the flags are honoured; the saved tree survives a cut-off save.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { IC_OS_DIR } from "../../../src/paths.ts";
import { configJson, SSH_ACCOUNTS } from "../../../src/config/media.ts";
import { parseConfig } from "../../../src/config/schema.ts";
import { validConfig } from "../../fixtures/config/cases.ts";
import { scratch } from "../../helpers/tmp.ts";

const C = join(IC_OS_DIR, "components");
const BOOTSTRAP = join(C, "config-injection/opt/ic/bin/bootstrap-ic-node.sh");
const SAVE = join(C, "config-injection/opt/ic/bin/save-ic-node-config.sh");
const LIB = join(C, "icos-lib/opt/ic/lib");
const MEDIA_RULES = join(C, "config-injection/opt/ic/share/config-media.json");
const ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl admin@test\n";

interface Node {
  dir: string;
  media: string;
  bootConfig: string;
  run: string;
  nodeDir: string;
  console: string;
  /** bootstrap-ic-node, then (as systemd does, once it succeeded) save-ic-node-config unless `save` is false. */
  bootstrap(o?: { media?: boolean; save?: boolean }): { code: number; out: string };
}

function node(t: TestContext): Node {
  const dir = scratch(t, "icos-inject-");
  const n = {
    dir,
    media: join(dir, "media"),
    bootConfig: join(dir, "boot-config"),
    run: join(dir, "run-config"),
    nodeDir: join(dir, "run-ic-node"),
    console: join(dir, "console"),
  };
  for (const d of [n.media, n.bootConfig, join(dir, "tmp")]) mkdirSync(d, { recursive: true });
  // Other accounts may walk up to the files, so a refused read is the files' own modes at work.
  chmodSync(dir, 0o755);
  return {
    ...n,
    bootstrap(o = {}) {
      const env = {
        PATH: process.env.PATH,
        ICOS_LIB: LIB,
        ICOS_MEDIA_DIR: o.media === false ? "" : n.media,
        ICOS_CONFIG_WAIT: "0",
        ICOS_BOOT_CONFIG: n.bootConfig,
        ICOS_RUN_CONFIG: n.run,
        ICOS_NODE_DIR: n.nodeDir,
        ICOS_KEY_OWNER: "nobody",
        ICOS_CONSOLE: n.console,
        ICOS_SAVE_PENDING: join(dir, "run-pending"),
        TMPDIR: join(dir, "tmp"),
      };
      const r = spawnSync(BOOTSTRAP, [], { env, encoding: "utf8" });
      let out = r.stdout + r.stderr;
      if (r.status !== 0 || o.save === false) return { code: r.status ?? -1, out };
      const s = spawnSync(SAVE, [], { env, encoding: "utf8" });
      out += s.stdout + s.stderr;
      return { code: s.status ?? -1, out };
    },
  };
}

/** A media as `icos config guestos` writes it; `edit` changes the config after validation. */
function writeMedia(n: Node, o: { edit?: (c: Record<string, any>) => void; keys?: boolean; operatorKey?: string } = {}): void {
  const c = validConfig();
  c.icos_settings.use_ssh_authorized_keys = !!o.keys;
  c.icos_settings.use_node_operator_private_key = o.operatorKey !== undefined;
  const parsed = parseConfig(c);
  assert.ok(parsed.ok);
  const json = JSON.parse(configJson(parsed.config)) as Record<string, any>;
  o.edit?.(json);
  writeFileSync(join(n.media, "README.txt"), "test media\n");
  writeFileSync(join(n.media, "config.json"), JSON.stringify(json, null, 2));
  if (o.keys) {
    mkdirSync(join(n.media, "accounts_ssh_authorized_keys"), { recursive: true });
    writeFileSync(join(n.media, "accounts_ssh_authorized_keys/admin"), ADMIN_KEY);
  }
  if (o.operatorKey !== undefined) writeFileSync(join(n.media, "node_operator_private_key.pem"), o.operatorKey);
}

function ed25519Pem(dir: string): string {
  const file = join(dir, "operator.pem");
  assert.equal(spawnSync("openssl", ["genpkey", "-algorithm", "ed25519", "-out", file]).status, 0);
  return readFileSync(file, "utf8");
}

/** Can `user` read the file (as the kernel decides: no root privileges)? */
function canRead(user: string, file: string): boolean {
  return spawnSync("setpriv", ["--reuid", user, "--regid", "nogroup", "--clear-groups", "cat", file], { stdio: "ignore" }).status === 0;
}

const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8);
const savedTree = (n: Node) => readdirSync(n.bootConfig).sort();

describe("bootstrap-ic-node", () => {
  it("keeps a valid media root-only on /boot/config and /run/config; the operator key is readable by its account only", (t) => {
    const n = node(t);
    writeMedia(n, { keys: true, operatorKey: ed25519Pem(n.dir) });
    const r = n.bootstrap();
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /configuration read from the CONFIG media \(4 files\)/);
    assert.equal(mode(n.run), "700");
    for (const f of ["config.json", "README.txt", "accounts_ssh_authorized_keys/admin"]) {
      assert.equal(mode(join(n.run, f)), "600", f);
      assert.equal(statSync(join(n.run, f)).uid, 0);
    }
    assert.equal(existsSync(join(n.run, "node_operator_private_key.pem")), false, "the key is not left in /run/config");
    const key = join(n.nodeDir, "node_operator_private_key.pem");
    assert.equal(mode(key), "400");
    assert.equal(statSync(key).uid, Number(spawnSync("id", ["-u", "nobody"], { encoding: "utf8" }).stdout));
    // The saved tree: a symlink to a 0700 directory of 0600 files, the partition's root 0700.
    assert.equal(mode(n.bootConfig), "700");
    assert.ok(lstatSync(join(n.bootConfig, "bootstrap")).isSymbolicLink());
    const saved = join(n.bootConfig, readlinkSync(join(n.bootConfig, "bootstrap")));
    assert.equal(mode(saved), "700");
    assert.equal(mode(join(saved, "node_operator_private_key.pem")), "600");
    // Another account (nobody stands for readonly and backup) reads none of it; the key's owner reads only the key.
    assert.equal(canRead("nobody", join(n.run, "config.json")), false);
    assert.equal(canRead("nobody", join(saved, "config.json")), false);
    assert.equal(canRead("daemon", key), false);
    assert.equal(canRead("nobody", key), true);
  });

  for (const [what, text, message] of [
    ["two JSON documents", "{}\n{}\n", /config\.json: not one JSON document \(2 found\)/],
    ["no document", "", /config\.json: not one JSON document \(0 found\)/],
    ["cut-off JSON", '{"config_version": ', /config\.json: not one JSON document \(.*parse error/],
  ] as const) {
    it(`refuses a config.json with ${what}`, (t) => {
      const n = node(t);
      writeMedia(n);
      writeFileSync(join(n.media, "config.json"), text);
      const r = n.bootstrap();
      assert.equal(r.code, 1, r.out);
      assert.match(readFileSync(n.console, "utf8"), message);
    });
  }

  for (const [name, edit, field] of [
    ["an array where a string belongs (became shell words under eval)", (c: any) => (c.network_settings.ipv6_config.Deterministic.prefix = ["x", "sh", "-c", "touch PWNED"]), "network_settings.ipv6_config.Deterministic.prefix"],
    ["a newline in domain_name (injected a section into the .network file)", (c: any) => (c.network_settings.domain_name = "example.org\n[Network]\nDNS=203.0.113.1"), "network_settings.domain_name"],
    ["an unknown key", (c: any) => (c.icos_settings.run = "reboot"), "icos_settings.run"],
    ["a value out of range", (c: any) => (c.hostos_settings = { hostos_dev_settings: { vm_memory: 0, vm_cpu: "kvm" } }), "hostos_settings.hostos_dev_settings.vm_memory"],
  ] as const) {
    it(`refuses ${name}: the field on the console, nothing kept, nothing configured`, (t) => {
      const n = node(t);
      writeMedia(n);
      assert.equal(n.bootstrap().code, 0);
      const before = savedTree(n);
      const savedConfig = readFileSync(join(n.bootConfig, "bootstrap/config.json"));
      writeMedia(n, { edit });
      spawnSync("rm", ["-rf", n.run]);
      const r = n.bootstrap();
      assert.equal(r.code, 1, r.out);
      const console = readFileSync(n.console, "utf8");
      assert.match(console, new RegExp(`bootstrap-ic-node: ERROR: CONFIG media refused: config\\.json: ${field.replace(/\./g, "\\.")}:`));
      assert.match(r.out, /refused: config\.json/);
      assert.equal(existsSync(n.run), false, "no /run/config");
      assert.deepEqual(savedTree(n), before, "the saved tree is the earlier one");
      assert.deepEqual(readFileSync(join(n.bootConfig, "bootstrap/config.json")), savedConfig);
      assert.equal(existsSync(join(n.dir, "PWNED")), false);
    });
  }

  it("honours the flags: keys or an operator key the config does not announce, or missing ones, are refused", (t) => {
    const n = node(t);
    const cases: [string, Parameters<typeof writeMedia>[1], RegExp][] = [
      ["keys without the flag", { keys: true, edit: (c) => (c.icos_settings.use_ssh_authorized_keys = false) }, /use_ssh_authorized_keys: false, but the media carries accounts_ssh_authorized_keys/],
      ["the flag without keys", { edit: (c) => (c.icos_settings.use_ssh_authorized_keys = true) }, /use_ssh_authorized_keys: true, but the media has no accounts_ssh_authorized_keys\/admin/],
      ["the operator flag without a key", { edit: (c) => (c.icos_settings.use_node_operator_private_key = true) }, /use_node_operator_private_key: true, but the media has no node_operator_private_key\.pem/],
      ["an operator key without the flag", { operatorKey: ed25519Pem(n.dir), edit: (c) => (c.icos_settings.use_node_operator_private_key = false) }, /not true, but the media carries node_operator_private_key\.pem/],
      ["an operator key that is not one", { operatorKey: "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n" }, /node_operator_private_key\.pem: not an unencrypted PEM private key/],
    ];
    for (const [name, o, why] of cases) {
      spawnSync("rm", ["-rf", n.media]);
      mkdirSync(n.media);
      writeMedia(n, o);
      const r = n.bootstrap();
      assert.equal(r.code, 1, `${name}: ${r.out}`);
      assert.match(r.out, why, name);
    }
  });

  it("refuses entries the media may not hold: a symlink, a FIFO, an unknown file", (t) => {
    for (const [name, add] of [
      ["symlink", (m: string) => symlinkSync("/etc/shadow", join(m, "README.txt"))],
      ["fifo", (m: string) => spawnSync("mkfifo", [join(m, "node_operator_private_key.pem")])],
      ["unknown", (m: string) => writeFileSync(join(m, "run.sh"), "#!/bin/sh\n")],
    ] as const) {
      const n = node(t);
      writeMedia(n);
      spawnSync("rm", ["-f", join(n.media, "README.txt")]);
      add(n.media);
      const r = n.bootstrap();
      assert.equal(r.code, 1, `${name}: ${r.out}`);
      assert.match(r.out, /not a regular file or directory|not a file the CONFIG media may hold/, name);
      assert.equal(existsSync(join(n.bootConfig, "bootstrap")), false, name);
    }
  });

  it("without media, uses the saved tree after checking it again; a save cut short leaves the old tree", (t) => {
    const n = node(t);
    writeMedia(n);
    assert.equal(n.bootstrap().code, 0);
    // A cut-off save: a half-written new directory and a dangling new link beside the committed one.
    mkdirSync(join(n.bootConfig, "bootstrap-cutoff"));
    writeFileSync(join(n.bootConfig, "bootstrap-cutoff/config.json"), "{");
    symlinkSync("bootstrap-cutoff", join(n.bootConfig, "bootstrap.new"));
    const r = n.bootstrap({ media: false });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /no CONFIG media; using the configuration saved/);
    // A saved tree changed behind our back is refused like a media.
    const saved = join(n.bootConfig, readlinkSync(join(n.bootConfig, "bootstrap")), "config.json");
    writeFileSync(saved, readFileSync(saved, "utf8").replace('"testnet"', '"devnet"'));
    const bad = n.bootstrap({ media: false });
    assert.equal(bad.code, 1);
    assert.match(bad.out, /the configuration saved on .* refused: config\.json: icos_settings\.deployment_environment/);
    // The next media replaces it and clears the leftovers.
    writeMedia(n);
    assert.equal(n.bootstrap().code, 0);
    assert.deepEqual(savedTree(n).filter((e) => !e.startsWith("bootstrap-")), ["bootstrap"]);
    assert.equal(savedTree(n).filter((e) => e.startsWith("bootstrap-")).length, 1);
  });

  it("saves apart from injection: /run/config is ready first; the pending tree is root-only, holds the key, and is gone after the save", (t) => {
    const n = node(t);
    writeMedia(n, { operatorKey: ed25519Pem(n.dir) });
    const r = n.bootstrap({ save: false });
    assert.equal(r.code, 0, r.out);
    assert.ok(existsSync(join(n.run, "config.json")));
    assert.equal(existsSync(join(n.bootConfig, "bootstrap")), false, "nothing saved before the save step");
    const pending = join(n.dir, "run-pending");
    assert.equal(mode(pending), "700");
    assert.equal(mode(join(pending, "node_operator_private_key.pem")), "600");
    assert.equal(canRead("nobody", join(pending, "config.json")), false);
    const saved = spawnSync(SAVE, [], { env: { PATH: process.env.PATH, ICOS_LIB: LIB, ICOS_CONSOLE: n.console, ICOS_BOOT_CONFIG: n.bootConfig, ICOS_SAVE_PENDING: pending }, encoding: "utf8" });
    assert.equal(saved.status, 0, saved.stderr);
    assert.match(saved.stdout, /configuration saved on/);
    assert.equal(existsSync(pending), false);
    assert.ok(existsSync(join(n.bootConfig, "bootstrap", "node_operator_private_key.pem")));
  });

  it("moves a tree saved by an older image (a plain directory) under the link", (t) => {
    const n = node(t);
    writeMedia(n);
    mkdirSync(join(n.bootConfig, "bootstrap"));
    writeFileSync(join(n.bootConfig, "bootstrap/config.json"), "old");
    assert.equal(n.bootstrap().code, 0);
    assert.ok(lstatSync(join(n.bootConfig, "bootstrap")).isSymbolicLink());
    assert.notEqual(readFileSync(join(n.bootConfig, "bootstrap/config.json"), "utf8"), "old");
  });
});

describe("consumers of /run/config", () => {
  const env = (dir: string) => ({ ...process.env, ICOS_LIB: LIB, ICOS_CONSOLE: join(dir, "console") });

  it("generate-network-config refuses a field that is not a string or holds a control character, and runs nothing", (t) => {
    const dir = scratch(t, "icos-net-");
    const gen = join(C, "network-config/opt/ic/bin/generate-network-config.sh");
    for (const [name, edit] of [
      ["array", (c: any) => (c.network_settings.ipv6_config.Deterministic.prefix = ["x", "sh", "-c", `touch ${dir}/PWNED`])],
      ["newline", (c: any) => (c.network_settings.domain_name = "example.org\n[Network]\nDNS=203.0.113.1")],
    ] as const) {
      const c = validConfig();
      edit(c);
      writeFileSync(join(dir, "config.json"), JSON.stringify(c));
      const r = spawnSync(gen, [join(dir, "config.json"), join(dir, "network")], { env: env(dir), encoding: "utf8" });
      assert.equal(r.status, 1, name);
      assert.match(r.stderr, /expected a string|contains a control character/, name);
      assert.equal(existsSync(join(dir, "network/10-icos.network")), false, name);
    }
    assert.equal(existsSync(join(dir, "PWNED")), false);
  });

  it("setup-ssh-account-keys installs keys only when use_ssh_authorized_keys is true", (t) => {
    const dir = scratch(t, "icos-keys-");
    const script = join(C, "ssh-accounts/opt/ic/bin/setup-ssh-account-keys.sh");
    mkdirSync(join(dir, "config/accounts_ssh_authorized_keys"), { recursive: true });
    writeFileSync(join(dir, "config/accounts_ssh_authorized_keys/admin"), ADMIN_KEY);
    for (const use of [true, false]) {
      const c = validConfig();
      c.icos_settings.use_ssh_authorized_keys = use;
      writeFileSync(join(dir, "config/config.json"), JSON.stringify(c));
      const r = spawnSync(script, [join(dir, "config"), join(dir, "keys")], { env: { ...env(dir), ICOS_MEDIA_RULES: MEDIA_RULES }, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(existsSync(join(dir, "keys/admin")), use, `use_ssh_authorized_keys ${use}`);
      // One line per account of the media rules (SSH_ACCOUNTS), the script's only list of them.
      assert.deepEqual(r.stdout.trim().split("\n").map((l) => /^ssh-accounts: (\w+):/.exec(l)?.[1]), [...SSH_ACCOUNTS]);
    }
  });

  it("the account names are SSH_ACCOUNTS everywhere the image names them: sshd's AllowUsers, the Dockerfile's accounts", () => {
    const sshd = readFileSync(join(C, "ssh-accounts/etc/ssh/sshd_config.d/20-icos-accounts.conf"), "utf8");
    assert.deepEqual(/^AllowUsers (.*)$/m.exec(sshd)?.[1]?.split(" "), [...SSH_ACCOUNTS]);
    const dockerfile = readFileSync(join(IC_OS_DIR, "guestos/context/Dockerfile"), "utf8");
    for (const account of SSH_ACCOUNTS) assert.match(dockerfile, new RegExp(`(useradd|usermod)[^;]* ${account};`), account);
  });

  it("setup-hostname refuses a name that is not a label and replaces /etc/hostname atomically", (t) => {
    const dir = scratch(t, "icos-host-");
    const script = join(C, "hostname/opt/ic/bin/setup-hostname.sh");
    const run = (hostname: unknown) => {
      const c = validConfig();
      c.guestos_settings = { guestos_dev_settings: { hostname } };
      writeFileSync(join(dir, "config.json"), JSON.stringify(c));
      return spawnSync(script, [join(dir, "config.json"), join(dir, "hostname")], { env: { ...env(dir), ICOS_NO_SETHOSTNAME: "1" }, encoding: "utf8" });
    };
    assert.equal(run("node-1").status, 0);
    assert.equal(readFileSync(join(dir, "hostname"), "utf8"), "node-1\n");
    assert.equal(run("x\nevil").status, 1);
    assert.equal(readFileSync(join(dir, "hostname"), "utf8"), "node-1\n");
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes(".tmp")), [], "no temp file left");
  });
});

describe("state on the config partition", () => {
  const env = (dir: string) => ({ ...process.env, ICOS_LIB: LIB, ICOS_CONSOLE: join(dir, "console") });

  it("setup-config-partition formats only a provably blank partition", (t) => {
    const dir = scratch(t, "icos-part-");
    const script = join(C, "boot-mounts/opt/ic/bin/setup-config-partition.sh");
    const part = (name: string, make: (f: string) => void) => {
      const f = join(dir, name);
      spawnSync("truncate", ["-s", "16M", f]);
      make(f);
      return f;
    };
    const sha = (f: string) => spawnSync("sha256sum", [f], { encoding: "utf8" }).stdout.split(" ")[0];
    const run = (f: string) => spawnSync(script, [f], { env: env(dir), encoding: "utf8" });

    const blank = part("blank", () => undefined);
    assert.equal(run(blank).status, 0);
    assert.match(spawnSync("blkid", ["-p", "-o", "value", "-s", "TYPE", blank], { encoding: "utf8" }).stdout, /ext4/);
    // Without a device argument the device and its label come from the device contract.
    const viaContract = part("via-contract", () => undefined);
    writeFileSync(join(dir, "contract.env"), `ICOS_CONFIG_DEV='${viaContract}'\nICOS_CONFIG_LABEL='cfg-label'\n`);
    assert.equal(spawnSync(script, [], { env: { ...env(dir), ICOS_CONTRACT: join(dir, "contract.env") }, encoding: "utf8" }).status, 0);
    assert.equal(spawnSync("blkid", ["-p", "-o", "value", "-s", "LABEL", viaContract], { encoding: "utf8" }).stdout.trim(), "cfg-label");
    assert.match(spawnSync("debugfs", ["-R", "stat <2>", blank], { encoding: "utf8" }).stdout, /Mode:\s+0700/);
    const formatted = sha(blank);
    assert.match(run(blank).stdout, /ext4 filesystem present/);
    assert.equal(sha(blank), formatted, "an ext4 partition is left alone");

    for (const [name, make, why] of [
      ["data", (f: string) => spawnSync("sh", ["-c", `printf 'identity' | dd of=${f} bs=1 seek=1048576 conv=notrunc 2>/dev/null`]), /not blank/],
      ["vfat", (f: string) => spawnSync("mkfs.vfat", [f]), /holds a vfat filesystem, not ext4/],
      ["two-signatures", (f: string) => {
        spawnSync("mkfs.ext4", ["-q", "-F", f]);
        spawnSync("sh", ["-c", `dd if=/dev/zero of=${f}.v bs=1M count=16 2>/dev/null && mkfs.vfat ${f}.v >/dev/null && dd if=${f}.v of=${f} bs=512 count=1 conv=notrunc 2>/dev/null`]);
      }, /more than one filesystem signature/],
    ] as const) {
      const f = part(name, make);
      const before = sha(f);
      const r = run(f);
      assert.equal(r.status, 1, `${name}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, why, name);
      assert.equal(sha(f), before, `${name}: untouched`);
    }
  });

  it("setup-ssh-host-keys replaces a key a power cut left empty", (t) => {
    const dir = scratch(t, "icos-hostkeys-");
    const script = join(C, "ssh-host-keys/opt/ic/bin/setup-ssh-host-keys.sh");
    assert.equal(spawnSync(script, [dir], { env: env(dir) }).status, 0);
    // It makes exactly the keys sshd's HostKey lines name (Ed25519 and ECDSA: no slow RSA keygen at boot).
    const hostKeys = readFileSync(join(C, "ssh-host-keys/etc/ssh/sshd_config.d/10-icos-host-keys.conf"), "utf8").match(/^HostKey .*$/gm)!.map((l) => l.split("/").pop());
    assert.deepEqual(readdirSync(join(dir, "etc/ssh")).filter((f) => f.endsWith("_key")).sort(), hostKeys.sort());
    const key = join(dir, "etc/ssh/ssh_host_ed25519_key");
    const good = readFileSync(`${key}.pub`, "utf8");
    writeFileSync(key, "");
    const r = spawnSync(script, [dir], { env: env(dir), encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /ssh_host_ed25519_key is unreadable/);
    assert.notEqual(readFileSync(`${key}.pub`, "utf8"), good);
    assert.equal(spawnSync("ssh-keygen", ["-y", "-f", key]).status, 0);
    assert.equal(mode(dir), "700");
  });
});
