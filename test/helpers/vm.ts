// Helpers for VM tests: a CONFIG media with an admin key, an ssh client against a VM's
// forwarded port, a known_hosts with its host keys, and typing on its console.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import type { VmHandle } from "../../src/vm/vm.ts";
import { icos } from "./cli.ts";

/**
 * An ed25519 key pair (in `dir`), and the CONFIG media for `config` carrying its public key for
 * admin (and for the other `accounts`).
 */
export function configMediaWithKey(dir: string, config: string, accounts: string[] = ["admin"]): { media: string; key: string } {
  const keys = join(dir, "keys");
  mkdirSync(keys, { recursive: true });
  const key = join(dir, "id_admin");
  spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "icos-test", "-f", key]);
  for (const account of accounts) copyFileSync(`${key}.pub`, join(keys, account));
  const media = join(dir, "config.img");
  const r = icos(["config", "guestos", "--config", config, "--ssh-keys", keys, "--out", media]);
  assert.equal(r.code, 0, r.stderr);
  return { media, key };
}

/**
 * The VM's ed25519 host key lines as ssh-keyscan sees them (`[127.0.0.1]:PORT ssh-ed25519 KEY`),
 * retried: a busy sshd under TCG sometimes answers with its banner and no key.
 */
function keyscan(port: number): string[] {
  let stderr = "";
  for (let i = 0; i < 5; i++) {
    const r = spawnSync("ssh-keyscan", ["-T", "30", "-p", String(port), "-t", "ed25519", "127.0.0.1"], { encoding: "utf8" });
    const lines = r.stdout.split("\n").filter((l) => l.startsWith(`[127.0.0.1]:${port} ssh-ed25519 `));
    if (lines.length > 0) return lines;
    stderr = r.stderr;
    spawnSync("sleep", ["3"]);
  }
  return assert.fail(`ssh-keyscan -p ${port} 127.0.0.1: no ed25519 host key in 5 tries: ${stderr}`);
}

/** The VM's ed25519 host key as a client sees it (the key files on /boot/config/ssh are root-only). */
export function sshHostKey(port: number): string {
  return keyscan(port)[0]!.split(" ").slice(1).join(" ");
}

/**
 * Write a known_hosts file with the VM's ed25519 host key as ssh-keyscan sees it now, for `icos
 * upgrade --known-hosts`: taken before an upgrade, it makes icos check that the machine keeps its
 * key across it.
 */
export function knownHostsOf(port: number, file: string): string {
  writeFileSync(file, keyscan(port).join("\n") + "\n");
  return file;
}

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** ssh's arguments for `command` as `user` on a VM's forwarded port (throwaway VMs: no host key check). */
export function sshArgs(port: number, user: string, key: string, command: string, extra: string[] = []): string[] {
  return [
    "-p", String(port), "-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", ...extra, `${user}@127.0.0.1`, command,
  ];
}

export function ssh(port: number, user: string, key: string, command: string, extra: string[] = [], input?: Buffer): SshResult {
  const r = spawnSync("ssh", sshArgs(port, user, key, command, extra), { encoding: "utf8", timeout: input ? 600_000 : 60_000, input, maxBuffer: 64 << 20 });
  return { code: r.status ?? 255, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Poll until ssh works (slirp accepts the connection before sshd listens). */
export async function waitForSsh(port: number, user: string, key: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: SshResult | undefined;
  while (Date.now() < end) {
    last = ssh(port, user, key, "true");
    if (last.code === 0) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`ssh ${user}@127.0.0.1:${port} not reachable: ${last?.stderr}`);
}

// One console connection per VM, opened on first use and read (and thrown away: serial.log has
// it all) until the VM stops. QEMU's serial port waits for a connected client that does not read,
// stalling the guest's console; and a client that disconnects while QEMU is writing to it can
// leave the port stalled for good. So we never stop reading and never hang up.
const consoles = new WeakMap<VmHandle, Promise<Socket>>();

function consoleOf(vm: VmHandle): Promise<Socket> {
  let sock = consoles.get(vm);
  if (!sock) {
    sock = new Promise((resolve, reject) => {
      const s = connect(vm.serialSocket);
      s.once("connect", () => {
        s.on("error", () => undefined); // QEMU exiting closes it
        s.resume();
        s.unref();
        resolve(s);
      });
      s.once("error", reject);
    });
    consoles.set(vm, sock);
  }
  return sock;
}

/** Type on the serial console: each step waits for `expect` in the console output, then sends `send`. */
export async function consoleDialog(vm: VmHandle, steps: { expect: RegExp; send: string }[], timeoutMs: number): Promise<void> {
  let text = "";
  vm.onData((b) => (text += b.toString("latin1")));
  const sock = await consoleOf(vm);
  let from = text.length;
  // An idle getty printed its prompt long ago: an empty line makes it print a fresh one.
  sock.write("\n");
  for (const [i, step] of steps.entries()) {
    const end = Date.now() + timeoutMs;
    let nudged = Date.now();
    while (!step.expect.test(text.slice(from))) {
      if (Date.now() > end) throw new Error(`console: no ${step.expect} within ${timeoutMs} ms; last output:\n${text.slice(-500)}`);
      // Boot messages printed after the first prompt hide it: ask for a fresh one now and then.
      if (i === 0 && Date.now() - nudged > 5000) {
        sock.write("\n");
        nudged = Date.now();
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    from = text.length;
    sock.write(step.send);
  }
}

/** Log in as root on a dev image's console (root/root) and reboot it. */
export function rebootFromConsole(vm: VmHandle): Promise<void> {
  return consoleDialog(vm, [
    { expect: /login: ?$/, send: "root\n" },
    { expect: /Password: ?$/, send: "root\n" },
    { expect: /# ?$/, send: "systemctl reboot\n" },
  ], 60_000);
}

/** The n-th console line (counting from the start of the run) that matches. */
export function nthLine(vm: VmHandle, match: RegExp, n: number, timeoutMs: number): Promise<string> {
  let seen = 0;
  return vm.waitFor((l) => match.test(l) && ++seen === n, timeoutMs);
}
