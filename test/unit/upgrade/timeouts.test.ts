// `icos upgrade` against a live but stuck device, played by a fake `ssh` first on PATH (no
// network): upgrade-install is stopped when it stalls (no progress line, no image bytes taken) or
// runs past its overall bound, upgrade-commit when it does not answer; each with exit 1 and the
// reason, in seconds rather than forever. The fakes give up by themselves after 20 s, so that
// code without the bounds fails these tests instead of hanging them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultInstallTimeoutMs, INSTALL_STALL_MS, COMMIT_TIMEOUT_MS, upgrade, updateImageBytes } from "../../../src/upgrade/upgrade.ts";
import { icos } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";
import { fakeSsh, STATUS_A, tinyUpdateImage } from "./fake-ssh.ts";

const at = ["--ssh", "127.0.0.1:2222"];
/** Checked against a file (strict), so the fake is never asked `ssh -G`. */
function knownHosts(dir: string): string {
  const file = join(dir, "known_hosts");
  writeFileSync(file, "");
  return file;
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("a stalled upgrade-install (no progress line, no image bytes taken) is stopped after --stall-timeout: exit 1, ssh killed, running system unchanged", async (t) => {
  const dir = scratch(t);
  const image = await tinyUpdateImage(dir, "2.0.0");
  // Says it is receiving, then neither reads its stdin nor says anything (the image fits in the pipe).
  const fake = fakeSsh(dir, {
    status: STATUS_A,
    install: 'echo "manageboot: receiving the update image and its sha256" >&2; echo $$ > "$DIR/install.pid"; exec sleep 20',
    commit: 'echo "manageboot: error: no completed install to commit" >&2; exit 1',
  });
  const started = Date.now();
  const r = icos(["upgrade", "--to", image, ...at, "--known-hosts", knownHosts(dir), "--stall-timeout", "1", "--install-timeout", "600", "--timeout", "5"], { env: fake.env });
  const took = (Date.now() - started) / 1000;
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /device: receiving the update image and its sha256/, "the device's progress is shown");
  assert.match(r.stderr, /upgrade of admin@127\.0\.0\.1:2222: upgrade-install timed out: no progress from the device and no image bytes taken for 1 s \(--stall-timeout\); ssh was stopped, the running system is unchanged/);
  assert.ok(took < 15, `gave up after ${took.toFixed(1)} s`);
  const pid = Number(readFileSync(join(dir, "install.pid"), "utf8"));
  assert.equal(alive(pid), false, "ssh was killed");
  assert.equal(fake.calls().filter((argv) => argv.at(-1)!.includes("upgrade-commit")).length, 0, "nothing committed");
});

test("an upgrade-install that keeps talking but never ends is stopped after --install-timeout: exit 1", async (t) => {
  const dir = scratch(t);
  const image = await tinyUpdateImage(dir, "2.0.0");
  // A progress line every 0.2 s (so the stall bound never fires), for 20 s, then success.
  const fake = fakeSsh(dir, {
    status: STATUS_A,
    install: 'cat > /dev/null; i=0; while [ $i -lt 100 ]; do echo "manageboot: writing root.img" >&2; sleep 0.2; i=$((i + 1)); done; echo "manageboot: slot B holds version 2.0.0" >&2',
    commit: 'echo "manageboot: error: no completed install to commit" >&2; exit 1',
  });
  const started = Date.now();
  const r = icos(["upgrade", "--to", image, ...at, "--known-hosts", knownHosts(dir), "--stall-timeout", "1", "--install-timeout", "2", "--timeout", "5"], { env: fake.env });
  const took = (Date.now() - started) / 1000;
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /upgrade-install timed out: not finished within 2 s \(--install-timeout\); ssh was stopped, the running system is unchanged/);
  assert.match(r.stderr, /device: writing root\.img/);
  assert.ok(took < 15, `gave up after ${took.toFixed(1)} s`);
});

test("a stuck upgrade-commit is stopped after its bound: exit 1 saying it did not commit", async (t) => {
  const dir = scratch(t);
  const image = await tinyUpdateImage(dir, "2.0.0");
  const fake = fakeSsh(dir, {
    status: STATUS_A,
    install: 'cat > /dev/null; echo "manageboot: slot B holds version 2.0.0" >&2',
    commit: 'echo $$ > "$DIR/commit.pid"; exec sleep 20',
  });
  const path = process.env.PATH;
  process.env.PATH = fake.env.PATH;
  t.after(() => (process.env.PATH = path));
  const started = Date.now();
  await assert.rejects(
    upgrade({ image, ssh: { host: "127.0.0.1", port: 2222, user: "admin", hostKeys: { knownHosts: knownHosts(dir) } }, timeoutMs: 5000, commitTimeoutMs: 1000 }),
    (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 1);
      assert.match(e.message, /upgrade of admin@127\.0\.0\.1:2222: upgrade-commit timed out: no answer within 1 s; ssh was stopped\. The device did not say it committed/);
      return true;
    },
  );
  assert.ok((Date.now() - started) / 1000 < 15);
  assert.ok(existsSync(join(dir, "commit.pid")));
  assert.equal(alive(Number(readFileSync(join(dir, "commit.pid"), "utf8"))), false, "ssh was killed");
});

test("default bounds: install at least 30 min or 1 s per MiB the device unpacks, a 10 min stall, 2 min for commit", async (t) => {
  assert.equal(INSTALL_STALL_MS, 600_000);
  assert.equal(COMMIT_TIMEOUT_MS, 120_000);
  assert.equal(defaultInstallTimeoutMs(900 * 1048576), 1_800_000);
  assert.equal(defaultInstallTimeoutMs(10 * 1024 * 1048576), 10_240_000);
  const image = await tinyUpdateImage(scratch(t), "2.0.0");
  assert.equal(await updateImageBytes(image), "2.0.0\n".length + 4096 + 4096);
});
