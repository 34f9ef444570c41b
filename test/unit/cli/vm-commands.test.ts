// `icos ps`, `stop`, `console` and `ssh` as a user runs them, against stand-in VMs
// (test/helpers/fake-qemu.ts: node named qemu-system-x86_64 serving ser.sock and qmp.sock) and,
// for ssh, a fake `ssh` first on PATH that prints its argv. Real QEMU and sshd: the slow tier.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeConfigMedia } from "../../../src/config/media.ts";
import { keySearchDirs, matchingPrivateKey, mediaKeys } from "../../../src/config/ssh-identity.ts";
import { ROOT } from "../../../src/paths.ts";
import { icosAsync, type CliResult } from "../../helpers/cli.ts";
import { fakeVm } from "../../helpers/fake-qemu.ts";
import { scratch } from "../../helpers/tmp.ts";

const usage = (r: CliResult, message: RegExp) => {
  assert.equal(r.code, 2, `exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
};

/** icos with `input` on its stdin (a pipe, not a terminal). */
function icosWithInput(args: string[], env: Record<string, string>, input: Buffer[], gapMs = 300): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString("latin1")));
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
      // Type only once connected, as a person would.
      if (/connected to the serial console/.test(stderr) && input.length > 0) {
        const send = () => {
          const next = input.shift();
          if (next) child.stdin.write(next);
          if (input.length > 0) setTimeout(send, gapMs);
        };
        setTimeout(send, gapMs);
      }
    });
    // A console that never lets go must fail the test, not hang the run.
    const limit = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.once("close", (code) => {
      clearTimeout(limit);
      resolve({ code: code ?? 128, stdout, stderr });
    });
  });
}

describe("icos ps and stop", { timeout: 120_000 }, () => {
  test("ps lists running VMs (name, target, pid, ssh port, uptime, serial log, work dir) and drops gone ones; --json", async (t) => {
    const cache = scratch(t, "icos-ps-");
    const env = { ICOS_CACHE_DIR: cache };
    const empty = await icosAsync(["ps"], { env });
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /^no VMs running/);
    const a = await fakeVm(t, cache, { name: "guestos-dev", target: "guestos/dev", sshPort: 40022 });
    const gone = await fakeVm(t, cache, { name: "gone" });
    gone.child.kill("SIGKILL");
    await gone.exited;
    const r = await icosAsync(["ps"], { env });
    assert.equal(r.code, 0, r.stderr);
    const [header, row, ...rest] = r.stdout.trimEnd().split("\n");
    assert.match(header!, /^name\s+target\s+pid\s+ssh\s+uptime\s+serial log\s+work dir$/);
    // Started 65 s before the record was written; icos itself takes a moment to start.
    const cells = row!.split(/\s+/);
    assert.match(cells[4]!, /^1m[01]\ds$/);
    assert.deepEqual([...cells.slice(0, 4), ...cells.slice(5)], [a.rec.name, "guestos/dev", String(a.rec.pid), "127.0.0.1:40022", a.rec.serialLog, a.rec.workDir]);
    assert.deepEqual(rest, []);
    const j = await icosAsync(["ps", "--json"], { env });
    const list = JSON.parse(j.stdout) as Record<string, unknown>[];
    assert.equal(list.length, 1);
    assert.deepEqual(
      { ...list[0], uptimeSeconds: undefined, startedAt: undefined },
      { name: a.rec.name, target: "guestos/dev", disk: a.rec.disk, pid: a.rec.pid, sshPort: 40022, serialLog: a.rec.serialLog, workDir: a.rec.workDir, uptimeSeconds: undefined, startedAt: undefined, accel: "tcg", configMedia: null },
    );
    assert.ok((list[0]!.uptimeSeconds as number) >= 65);
  });

  test("stop <vm> powers it off; stop --all stops the rest; bad input is exit 2 naming it", async (t) => {
    const cache = scratch(t, "icos-stop-");
    const env = { ICOS_CACHE_DIR: cache };
    const a = await fakeVm(t, cache, { name: "first" });
    const b = await fakeVm(t, cache, { name: "second", powerdown: "ignore" });
    const c = await fakeVm(t, cache, { name: "third" });
    usage(await icosAsync(["stop"], { env }), /^error: 3 VMs are running; say which one to stop \(or --all\): first-/);
    usage(await icosAsync(["stop", "nosuch"], { env }), /^error: no running VM "nosuch"; running: first-/);
    usage(await icosAsync(["stop", "first", "--all"], { env }), /^error: --all and a VM \("first"\): give one of them/);
    usage(await icosAsync(["stop", "first", "--timeout", "soon"], { env }), /^error: --timeout: expected whole seconds from 0 to 3600, got "soon"/);
    const one = await icosAsync(["stop", "first"], { env });
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, new RegExp(`^stopped ${a.rec.name} \\(pid ${a.rec.pid}\\): the guest powered off after \\d+\\.\\d s$`, "m"));
    await a.exited;
    const all = await icosAsync(["stop", "--all", "--timeout", "1", "--json"], { env });
    assert.equal(all.code, 0, all.stderr);
    const results = JSON.parse(all.stdout) as { name: string; how: string }[];
    assert.deepEqual(results.map((r) => [r.name, r.how]), [[b.rec.name, "sigterm"], [c.rec.name, "powerdown"]]);
    await Promise.all([b.exited, c.exited]);
    const after = await icosAsync(["ps", "--json"], { env });
    assert.deepEqual(JSON.parse(after.stdout), []);
  });
});

describe("icos console", { timeout: 60_000 }, () => {
  test("joins stdin and stdout to the VM's serial socket; Ctrl-] detaches and is not sent", async (t) => {
    const cache = scratch(t, "icos-console-");
    const vm = await fakeVm(t, cache, { name: "con" });
    const r = await icosWithInput(["console"], { ICOS_CACHE_DIR: cache }, [Buffer.from("root\n"), Buffer.from("ls\x1d")]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^connected to the serial console of ${vm.rec.name} \\(/nonexistent/disk\\.img\\); Ctrl-\\] detaches$`, "m"));
    assert.match(r.stdout, /fake console ready\r\necho:root\n/);
    assert.match(r.stderr, /detached from con-\w+ \(it keeps running\)/);
    assert.equal(readFileSync(join(vm.rec.workDir, "serial-in.log"), "latin1"), "root\nls", "what was typed, without the escape key");
  });

  test("a socket path longer than a unix socket allows is still reached; piped input that ends detaches", async (t) => {
    const cache = scratch(t, "icos-console-");
    const deep = join(cache, "vm", `deep-${"x".repeat(120)}`);
    const vm = await fakeVm(t, cache, { workDir: deep });
    assert.ok(Buffer.byteLength(vm.rec.serialSocket) > 108);
    const child = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "console"], { cwd: ROOT, env: { ...process.env, ICOS_CACHE_DIR: cache }, input: "hello\n", encoding: "latin1", timeout: 20_000 });
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /echo:hello\n/);
  });

  test("no such VM, or its socket gone: exit 2 naming it", async (t) => {
    const cache = scratch(t, "icos-console-");
    usage(await icosAsync(["console"], { env: { ICOS_CACHE_DIR: cache } }), /^error: no running VM: none was started by `icos run` with this cache/);
    const vm = await fakeVm(t, cache, { name: "nosock" });
    writeFileSync(join(vm.rec.workDir, "vm.json"), JSON.stringify({ ...vm.rec, serialSocket: join(vm.rec.workDir, "missing.sock") }));
    usage(await icosAsync(["console", "nosock"], { env: { ICOS_CACHE_DIR: cache } }), /^error: cannot connect to the serial console of nosock-\w+ \(.*missing\.sock\): it is not there/);
  });
});

describe("icos ssh", { timeout: 120_000 }, () => {
  /** A key pair and a CONFIG media giving its public half to admin, in `dir`. */
  async function mediaWithKey(dir: string): Promise<{ media: string; key: string }> {
    mkdirSync(join(dir, "keys"), { recursive: true });
    const key = join(dir, "id_admin");
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", key]);
    // Another key beside it that is not on the media: not to be chosen.
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "other", "-f", join(dir, "id_aaa_other")]);
    writeFileSync(join(dir, "keys", "admin"), readFileSync(`${key}.pub`));
    const config = JSON.parse(readFileSync(join(ROOT, "examples/qemu-node-ssh.json"), "utf8")) as unknown;
    const media = join(dir, "config.img");
    await writeConfigMedia({ config, configFile: "qemu-node-ssh.json", sshKeysDir: join(dir, "keys"), out: media });
    return { media, key };
  }

  /** A fake ssh that prints each argument on a line and exits with $FAKE_SSH_EXIT. */
  function fakeSsh(dir: string): Record<string, string> {
    mkdirSync(join(dir, "bin"), { recursive: true });
    writeFileSync(join(dir, "bin", "ssh"), '#!/bin/sh\nfor a; do printf "%s\\n" "$a"; done\nexit "${FAKE_SSH_EXIT:-0}"\n');
    chmodSync(join(dir, "bin", "ssh"), 0o755);
    return { PATH: `${join(dir, "bin")}:${process.env.PATH}` };
  }

  test("the key whose .pub is on the VM's config media, found beside the media", async (t) => {
    const dir = scratch(t, "icos-ssh-");
    const { media, key } = await mediaWithKey(dir);
    const keys = await mediaKeys(media, "admin");
    assert.equal(keys.length, 1);
    assert.equal(keys[0], readFileSync(`${key}.pub`, "utf8").split(" ").slice(0, 2).join(" "));
    assert.deepEqual(await mediaKeys(media, "backup"), []);
    assert.equal(matchingPrivateKey(keys, keySearchDirs(media, "/nonexistent", "/nonexistent")), key);
    assert.equal(matchingPrivateKey(keys, ["/nonexistent"]), undefined);
  });

  test("logs in with that key, the VM's port and its own known_hosts (accept-new); the command after -- and ssh's exit code pass through", async (t) => {
    const dir = scratch(t, "icos-ssh-");
    const cache = join(dir, "cache");
    const { media, key } = await mediaWithKey(dir);
    const vm = await fakeVm(t, cache, { name: "guestos-dev", target: "guestos/dev", sshPort: 40122, configMedia: media });
    const env = { ICOS_CACHE_DIR: cache, ...fakeSsh(dir) };
    const expected = [
      "-p", "40122", "-i", key, "-o", "IdentitiesOnly=yes",
      "-o", `UserKnownHostsFile=${vm.rec.knownHosts}`, "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=accept-new",
      "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "admin@127.0.0.1",
    ];
    const login = await icosAsync(["ssh"], { env });
    assert.equal(login.code, 0, login.stderr);
    assert.deepEqual(login.stdout.trimEnd().split("\n"), expected);
    const cmd = await icosAsync(["ssh", "guestos/dev", "--", "sudo", "-n", "true"], { env: { ...env, FAKE_SSH_EXIT: "7" } });
    assert.equal(cmd.code, 7, "the remote command's exit code");
    assert.deepEqual(cmd.stdout.trimEnd().split("\n"), [...expected, "--", "sudo", "-n", "true"]);
    const printed = await icosAsync(["ssh", "--print", "--user", "readonly", "-i", join(dir, "id_aaa_other")], { env });
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /^ssh -p 40122 -i \S+\/id_aaa_other -o IdentitiesOnly=yes .* readonly@127\.0\.0\.1\n$/);
    assert.ok(!existsSync(vm.rec.knownHosts), "nothing is written until ssh itself connects");
  });

  test("no key found: ssh's own choice, and a hint when it fails; bad input: exit 2", async (t) => {
    const dir = scratch(t, "icos-ssh-");
    const cache = join(dir, "cache");
    await fakeVm(t, cache, { name: "plain" });
    const env = { ICOS_CACHE_DIR: cache, ...fakeSsh(dir) };
    const r = await icosAsync(["ssh"], { env: { ...env, FAKE_SSH_EXIT: "255" } });
    assert.equal(r.code, 255);
    assert.ok(!r.stdout.includes("-i\n"), "no -i without a key");
    assert.match(r.stderr, /ssh failed; no key was chosen: plain-\w+ was started without a config media/);
    assert.match(r.stderr, /hint: pass -i KEY/);
    usage(await icosAsync(["ssh", "plain", "uname"], { env }), /^error: unexpected argument "uname" after the VM "plain"\n  hint: put the remote command after --/);
    usage(await icosAsync(["ssh", "-i", join(dir, "missing")], { env }), /^error: --identity .*missing: no such file/);
    usage(await icosAsync(["ssh", "--user", "bad user"], { env }), /^error: --user: "bad user" is not a user name/);
  });
});

test("each of ps, stop, ssh, console, status, rollback and clean has --help with an example", { timeout: 60_000 }, async () => {
  const names = ["ps", "stop", "ssh", "console", "status", "rollback", "clean"];
  const results = await Promise.all(names.map((n) => icosAsync([n, "--help"])));
  for (const [i, r] of results.entries()) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Usage: icos ${names[i]} `), names[i]);
    assert.match(r.stdout, /Example:\n  \$ icos /, names[i]);
  }
  const top = await icosAsync(["--help"]);
  for (const n of names) assert.match(top.stdout, new RegExp(`^  ${n}\\b`, "m"));
});
