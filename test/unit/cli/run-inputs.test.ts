// `icos run` checks everything a user can get wrong before it starts QEMU for the KVM probe: a
// stand-in qemu-system-x86_64 first on PATH records any call, and must see none. No VM is started.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { icos, type CliResult } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";
import { ROOT } from "../../../src/paths.ts";

function fakeQemu(t: TestContext) {
  const dir = scratch(t, "icos-fake-qemu-");
  const calls = join(dir, "calls");
  mkdirSync(join(dir, "bin"));
  const qemu = join(dir, "bin", "qemu-system-x86_64");
  writeFileSync(qemu, `#!/bin/sh\necho "$*" >> ${calls}\nexit 1\n`);
  chmodSync(qemu, 0o755);
  // An empty cache: no probe verdict to reuse, so a run that got that far would probe.
  const env = { PATH: `${join(dir, "bin")}:${process.env.PATH}`, ICOS_ACCEL: "auto", ICOS_CACHE_DIR: join(dir, "cache") };
  return { env, called: () => (existsSync(calls) ? readFileSync(calls, "utf8") : "") };
}

function refusedEarly(r: CliResult, called: string, message: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at |using (KVM|TCG)/);
  assert.equal(called, "", "QEMU was started before the input was checked");
}

async function busyPort(t: TestContext): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  return (server.address() as { port: number }).port;
}

test("icos run: a missing disk, a directory, a bad --memory, a missing --config-media, a busy --ssh-port: each refused before QEMU starts", async (t) => {
  const q = fakeQemu(t);
  const dir = scratch(t);
  const disk = join(dir, "disk.img");
  writeFileSync(disk, Buffer.alloc(4096));
  const port = await busyPort(t);
  const cases: [string[], RegExp][] = [
    [[join(dir, "missing.img")], /^error: .*missing\.img: no such file\n/],
    [[scratch(t)], /^error: .*: is a directory without disk\.img\n/],
    [[disk, "--memory", "2T"], /^error: --memory: expected a memory size such as 2048, 2048M, 512MiB, 2G or 2GiB, got "2T"\n/],
    [[disk, "--config-media", join(dir, "nope.img")], /^error: --config-media .*nope\.img: no such file\n/],
    [[disk, "--ssh-port", String(port)], new RegExp(`^error: ssh port ${port}: 127\\.0\\.0\\.1:${port} is already in use\\n`)],
  ];
  for (const [args, message] of cases) refusedEarly(icos(["run", ...args], { env: q.env }), q.called(), message);
});

test("icos run --wait-ready: a guest QEMU has paused (io-error: the host's disk is full) fails within seconds, saying so", async (t) => {
  const dir = scratch(t, "icos-paused-qemu-");
  mkdirSync(join(dir, "bin"));
  // QEMU's arguments are passed through and ignored; the stand-in answers query-status with io-error.
  writeFileSync(join(dir, "bin", "qemu-system-x86_64"), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, "test/fixtures/fake-qemu/main.mjs")}" status=io-error "$@"\n`);
  chmodSync(join(dir, "bin", "qemu-system-x86_64"), 0o755);
  const disk = join(dir, "disk.img");
  writeFileSync(disk, Buffer.alloc(1 << 20));
  const started = Date.now();
  const r = icos(["run", disk, "--wait-ready", "--timeout", "60"], { env: { PATH: `${join(dir, "bin")}:${process.env.PATH}`, ICOS_ACCEL: "tcg", ICOS_CACHE_DIR: join(dir, "cache") } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /QEMU stopped running the guest \(status io-error\): a write to its disk failed on the host; is the host's disk full/);
  assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
});
