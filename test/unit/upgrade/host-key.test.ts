// `icos upgrade` and the device's ssh host key, against a fake `ssh` first on PATH (no network):
// strict against the user's known_hosts by default, against --known-hosts only, trust on first
// use only when asked (fingerprint printed, key pinned); a refused key is reported as such.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostKeyArgs, hostKeyProblem, sshArgv } from "../../../src/upgrade/ssh.ts";
import { icos } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";
import { fakeSsh, sshOption, STATUS_A, tinyUpdateImage } from "./fake-ssh.ts";

const PORT = 2222;
const at = ["--ssh", `127.0.0.1:${PORT}`];

/** What OpenSSH 9 prints (at LogLevel=ERROR, lines ending in \r\n) for a key it does not know, strict. */
const UNKNOWN = `printf 'No ED25519 host key is known for [127.0.0.1]:${PORT} and you have requested strict checking.\\r\\nHost key verification failed.\\r\\n' >&2; exit 255`;
/** ... and for a key that differs from the one in `file` (line 3). */
const changed = (file: string) =>
  `printf '%s\\r\\n' '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@' '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @' '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@' ` +
  `'IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!' 'Someone could be eavesdropping on you right now (man-in-the-middle attack)!' 'It is also possible that a host key has just been changed.' ` +
  `'The fingerprint for the ED25519 key sent by the remote host is' 'SHA256:AAAAfakefakefakefakefakefakefakefakefakefake0.' 'Please contact your system administrator.' ` +
  `"Add correct host key in ${file} to get rid of this message." "Offending ED25519 key in ${file}:3" ` +
  `'Host key for [127.0.0.1]:${PORT} has changed and you have requested strict checking.' 'Host key verification failed.' >&2; exit 255`;

test("ssh argv per host-key mode: strict and ssh's own known_hosts by default, one file only with --known-hosts, accept-new only for trust on first use", async (t) => {
  const dir = scratch(t);
  const image = await tinyUpdateImage(dir, "2.0.0");
  const known = join(dir, "known hosts"); // a blank in the path: quoted for ssh's option parser
  writeFileSync(known, "");
  const fake = fakeSsh(dir, {});
  const runs = {
    default: icos(["upgrade", "--to", image, ...at], { env: fake.env }),
    file: icos(["upgrade", "--to", image, ...at, "--known-hosts", known], { env: fake.env }),
    tofu: icos(["upgrade", "--to", image, ...at, "--trust-on-first-use"], { env: fake.env }),
  };
  for (const r of Object.values(runs)) assert.equal(r.code, 1, r.stderr); // the fake refuses the connection
  const [byDefault, withFile, tofu] = fake.calls();
  assert.ok(byDefault && withFile && tofu, "one ssh call per run");

  assert.equal(sshOption(byDefault, "StrictHostKeyChecking"), "yes");
  assert.equal(sshOption(byDefault, "UserKnownHostsFile"), undefined, "ssh's default UserKnownHostsFile (~/.ssh/known_hosts)");
  assert.equal(sshOption(byDefault, "GlobalKnownHostsFile"), undefined);

  assert.equal(sshOption(withFile, "StrictHostKeyChecking"), "yes");
  assert.equal(sshOption(withFile, "UserKnownHostsFile"), `"${known}"`);
  assert.equal(sshOption(withFile, "GlobalKnownHostsFile"), "/dev/null", "that file only");

  assert.equal(sshOption(tofu, "StrictHostKeyChecking"), "accept-new");
  assert.match(sshOption(tofu, "UserKnownHostsFile") ?? "", /\/icos-ssh-[^/]+\/known_hosts$/, "a private file: the first key is pinned for this command only");

  for (const argv of [byDefault, withFile, tofu]) {
    for (const o of ["BatchMode=yes", "ServerAliveInterval=5", "ServerAliveCountMax=3"]) assert.ok(argv.includes(o), `${o} in ${argv.join(" ")}`);
    assert.deepEqual(argv.slice(-2, -1), ["admin@127.0.0.1"]);
  }

  // The same, from the functions.
  const target = { host: "h", port: 22, user: "u" };
  assert.deepEqual(hostKeyArgs("user-known-hosts", "/p"), ["-o", "StrictHostKeyChecking=yes"]);
  assert.deepEqual(hostKeyArgs({ knownHosts: "/k/known_hosts" }, "/p"), ["-o", "UserKnownHostsFile=/k/known_hosts", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes"]);
  assert.deepEqual(hostKeyArgs("trust-on-first-use", "/p/known_hosts"), ["-o", "UserKnownHostsFile=/p/known_hosts", "-o", "StrictHostKeyChecking=accept-new"]);
  assert.equal(sshOption(sshArgv(target, "true", "/p"), "StrictHostKeyChecking"), "yes", "the default when no mode is given");

  const both = icos(["upgrade", "--to", image, ...at, "--known-hosts", known, "--trust-on-first-use"], { env: fake.env });
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--known-hosts and --trust-on-first-use: give one of them/);
});

test("a device whose key is not known: exit 2 naming the host and the known_hosts, with how to add it; not 'cannot read the boot state'", async (t) => {
  const dir = scratch(t);
  const image = await tinyUpdateImage(dir, "2.0.0");
  const fake = fakeSsh(dir, { status: UNKNOWN });
  const r = icos(["upgrade", "--to", image, ...at], { env: fake.env });
  assert.equal(r.code, 2, r.stderr);
  // Named by ssh -G: ~/.ssh/known_hosts unless the user's ssh config says otherwise.
  assert.match(r.stderr, new RegExp(`ssh host key check failed for admin@127\\.0\\.0\\.1:${PORT}: \\[127\\.0\\.0\\.1\\]:${PORT} is not in \\S*\\.ssh/known_hosts`));
  assert.match(r.stderr, /hint: check the key's fingerprint on the device's console/);
  assert.match(r.stderr, new RegExp(`ssh-keyscan -p ${PORT} 127\\.0\\.0\\.1 >> \\S*\\.ssh/known_hosts`));
  assert.match(r.stderr, /--known-hosts FILE, or --trust-on-first-use/);
  assert.doesNotMatch(r.stderr, /cannot read the device's boot state/);
  assert.equal(fake.calls().length, 1, "nothing else was tried");

  const known = join(dir, "known_hosts");
  writeFileSync(known, "");
  const r2 = icos(["upgrade", "--to", image, ...at, "--known-hosts", known], { env: fake.env });
  assert.equal(r2.code, 2, r2.stderr);
  assert.match(r2.stderr, new RegExp(`\\[127\\.0\\.0\\.1\\]:${PORT} is not in ${known} \\(strict checking\\); nothing was done`));
  assert.match(r2.stderr, new RegExp(`ssh-keyscan -p ${PORT} 127\\.0\\.0\\.1 >> ${known}`));
});

test("a host key that does not match known_hosts: exit 2, reported as a host-key failure naming the host, the file and line, and the key seen", async (t) => {
  const dir = scratch(t);
  const image = await tinyUpdateImage(dir, "2.0.0");
  const known = join(dir, "known_hosts");
  writeFileSync(known, "");
  const fake = fakeSsh(dir, { status: changed(known) });
  const r = icos(["upgrade", "--to", image, ...at, "--known-hosts", known], { env: fake.env });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`ssh host key check failed for admin@127\\.0\\.0\\.1:${PORT}: its key does not match the one for \\[127\\.0\\.0\\.1\\]:${PORT} in ${known}:3; another machine may be answering at that address; nothing was done`));
  assert.match(r.stderr, /\n  the device presented ED25519 SHA256:AAAAfakefakefakefakefakefakefakefakefakefake0/);
  assert.match(r.stderr, new RegExp(`hint: .*ssh-keygen -R '\\[127\\.0\\.0\\.1\\]:${PORT}' -f ${known}`));
  assert.doesNotMatch(r.stderr, /cannot read the device's boot state/);
  assert.doesNotMatch(r.stderr, /\r/);
  assert.equal(hostKeyProblem("ssh: connect to host 127.0.0.1 port 2222: Connection refused\r\n"), undefined);
  assert.equal(hostKeyProblem("admin@127.0.0.1: Permission denied (publickey).\r\n"), undefined);
  assert.equal(hostKeyProblem("Host key verification failed.\r\n"), "failed");
});

test("--trust-on-first-use says so and prints the fingerprint it accepted; another key after the reboot is an error", async (t) => {
  const dir = scratch(t);
  const image = await tinyUpdateImage(dir, "2.0.0");
  const hostKey = join(dir, "host_key");
  spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "device", "-f", hostKey]);
  const fingerprint = spawnSync("ssh-keygen", ["-l", "-f", `${hostKey}.pub`], { encoding: "utf8" }).stdout.split(" ")[1]!;
  assert.match(fingerprint, /^SHA256:/);
  const pub = readFileSync(`${hostKey}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
  // As ssh with accept-new: the first connection writes the key to the private known_hosts; after
  // the "reboot" (a committed upgrade) the device shows another key.
  const fake = fakeSsh(dir, {
    status: `if [ -e "$DIR/committed" ]; then ${changed("$KH")}; fi; [ "$STRICT" = accept-new ] && [ ! -s "$KH" ] && echo '[127.0.0.1]:${PORT} ${pub}' >> "$KH"; ${STATUS_A}`,
    install: 'cat > /dev/null; echo "manageboot: slot B holds version 2.0.0" >&2',
    commit: 'touch "$DIR/committed"; echo "manageboot: committed: the next boot runs slot B once" >&2',
  });
  const r = icos(["upgrade", "--to", image, ...at, "--trust-on-first-use", "--json", "--timeout", "60"], { env: fake.env });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`warning: --trust-on-first-use: accepted the ssh host key of \\[127\\.0\\.0\\.1\\]:${PORT} without checking it against any known_hosts: ED25519 ${fingerprint.replace(/[+/]/g, "\\$&")};`));
  assert.match(r.stderr, new RegExp(`the device's ssh host key changed across the upgrade: \\[127\\.0\\.0\\.1\\]:${PORT} no longer matches the key pinned when icos first connected \\(--trust-on-first-use: ED25519 ${fingerprint.replace(/[+/]/g, "\\$&")}\\)`));
  assert.match(r.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|has changed and you have requested strict checking/);
  const pinned = new Set(fake.calls().map((argv) => sshOption(argv, "UserKnownHostsFile")));
  assert.equal(pinned.size, 1, "one pinned file for every call of the command");
});
