// The cache lock: flock(2) on .icos-cache/lock, held by the build's process while its store is
// open. Other processes are real ones (node --import tsx workers), since the lock is per process
// and must outlive neither a normal exit nor SIGKILL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { openStore } from "../../../src/build/cache.ts";
import { UserError } from "../../../src/errors.ts";
import { scratch } from "../../helpers/tmp.ts";

const CACHE_TS = resolve(import.meta.dirname, "../../../src/build/cache.ts");

/** A node process running `body` (an ES module, with openStore imported), env as given. */
function worker(body: string, env: Record<string, string>): ChildProcess {
  const code = `import { openStore } from ${JSON.stringify(CACHE_TS)};\n${body}`;
  return spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = "";
  child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
  return new Promise((done) => child.on("exit", (code) => done({ code, stderr })));
}

/** Resolves with the first stdout line of `child`. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((done, fail) => {
    let text = "";
    child.stdout!.on("data", (b: Buffer) => {
      text += b.toString();
      if (text.includes("\n")) done(text.split("\n")[0]!);
    });
    child.on("exit", (code) => fail(new Error(`worker exited (${code}) before it said anything`)));
  });
}

/**
 * Takes the lock, starts a long-running tool (as a build would), says "locked <tool pid>", and
 * stays: for a minute, or until the file $RELEASE appears, when it exits without releasing.
 */
const HOLDER = `
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
openStore(process.env.DIR, { waitSeconds: 0 });
const tool = spawn("sleep", ["30"], { stdio: "ignore", detached: true });
tool.unref();
process.stdout.write("locked " + tool.pid + "\\n");
setTimeout(() => process.exit(0), 60000);
if (process.env.RELEASE) setInterval(() => existsSync(process.env.RELEASE) && process.exit(0), 10);
`;

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

const busy = (pid: number) => (e: unknown) => e instanceof UserError && e.exitCode === 2 && new RegExp(`another icos build \\(pid ${pid}\\) holds the cache lock`).test(e.message);

test("cache lock: four concurrent builds with a stale lock file: one at a time holds it, none sweeps another's temp dir", async (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, "lock"), "999999999\n"); // left by a build that died (no such process)
  const log = join(dir, "log");
  const go = join(dir, "go");
  const body = `
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
const { DIR, LOG, GO, ID } = process.env;
writeFileSync(GO + ".ready-" + ID, "");
while (!existsSync(GO)) await new Promise((r) => setTimeout(r, 2));
const { store, release } = openStore(DIR, { waitSeconds: 20, note: () => {} });
appendFileSync(LOG, "enter " + ID + "\\n");
const mine = store.scratch("worker-" + ID);
await new Promise((r) => setTimeout(r, 250));
appendFileSync(LOG, "leave " + ID + " " + (existsSync(mine) ? "kept" : "swept") + "\\n");
release();
`;
  const ids = ["1", "2", "3", "4"];
  const runs = ids.map((ID) => exited(worker(body, { DIR: dir, LOG: log, GO: go, ID })));
  // Start them together, once all four are up, so they race for the lock.
  while (ids.some((id) => !existsSync(`${go}.ready-${id}`))) await new Promise((r) => setTimeout(r, 5));
  writeFileSync(go, "");
  for (const r of await Promise.all(runs)) assert.equal(r.code, 0, r.stderr);
  const lines = readFileSync(log, "utf8").trim().split("\n");
  assert.equal(lines.length, 8, lines.join("\n"));
  for (let i = 0; i < lines.length; i += 2) {
    const id = lines[i]!.split(" ")[1];
    assert.equal(lines[i], `enter ${id}`, `two holders at once:\n${lines.join("\n")}`);
    assert.equal(lines[i + 1], `leave ${id} kept`, `two holders at once, or a temp dir swept:\n${lines.join("\n")}`);
  }
  assert.deepEqual(lines.filter((l) => l.startsWith("enter")).map((l) => l.split(" ")[1]).sort(), ids);
  assert.deepEqual(readdirSync(join(dir, "tmp")), []);
});

test("cache lock: held while its process lives; free once it is SIGKILLed, though a tool it started runs on", async (t) => {
  const dir = scratch(t);
  const holder = worker(HOLDER, { DIR: dir });
  const gone = exited(holder);
  const toolPid = Number((await firstLine(holder)).split(" ")[1]);
  t.after(() => killQuietly(toolPid));
  assert.throws(() => openStore(dir, { waitSeconds: 0 }), busy(holder.pid!));
  holder.kill("SIGKILL");
  await gone;
  process.kill(toolPid, 0); // the tool still runs: it did not inherit the lock
  const next = openStore(dir, { waitSeconds: 0 });
  assert.equal(readFileSync(join(dir, "lock"), "utf8"), `${process.pid}\n`);
  next.release();
});

test("cache lock: a second build waits, with a note, and gets the lock when the first exits", async (t) => {
  const dir = scratch(t);
  const release = join(dir, "release");
  const holder = worker(HOLDER, { DIR: dir, RELEASE: release });
  const gone = exited(holder);
  const toolPid = Number((await firstLine(holder)).split(" ")[1]);
  t.after(() => killQuietly(toolPid));
  const notes: string[] = [];
  // openStore blocks this process while it waits: a shell tells the holder to exit meanwhile.
  spawn("sh", ["-c", 'sleep 0.4; : > "$1"', "sh", release], { stdio: "ignore" });
  const t0 = Date.now();
  const second = openStore(dir, { waitSeconds: 20, note: (l) => notes.push(l) });
  const waited = Date.now() - t0;
  second.release();
  assert.equal((await gone).code, 0); // it exited without releasing: its death released the lock
  assert.ok(waited > 300, `took the lock after ${waited} ms, while the first build still held it`);
  assert.equal(notes.length, 1);
  assert.match(notes[0]!, new RegExp(`^waiting for the cache lock held by another icos build \\(pid ${holder.pid}\\)`));
});

test("cache lock: the wait is bounded: a build still holding it after waitSeconds is a UserError (exit 2)", async (t) => {
  const dir = scratch(t);
  const holder = worker(HOLDER, { DIR: dir });
  const gone = exited(holder);
  const toolPid = Number((await firstLine(holder)).split(" ")[1]);
  t.after(() => killQuietly(toolPid));
  const t0 = Date.now();
  assert.throws(() => openStore(dir, { waitSeconds: 0.5, note: () => {} }), (e: unknown) => busy(holder.pid!)(e) && /did not release it within 0.5 s/.test((e as Error).message));
  assert.ok(Date.now() - t0 >= 450);
  holder.kill("SIGKILL");
  await gone;
});

test("cache lock: in one process too, a second openStore is refused until the first releases; a live pid in the file is not the lock", (t) => {
  const dir = scratch(t);
  const first = openStore(dir);
  assert.throws(() => openStore(dir, { waitSeconds: 0 }), busy(process.pid));
  first.release();
  first.release(); // idempotent
  // A pid in the file, even of a live process (ours), is information only.
  writeFileSync(join(dir, "lock"), `${process.pid}\n`);
  const second = openStore(dir, { waitSeconds: 0 });
  second.release();
  assert.ok(existsSync(join(dir, "lock")), "the lock file is never removed");
});

test("cache lock: the holder sweeps tmp/ when it opens and when it releases", (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, "tmp", "killed-build-x"), { recursive: true });
  const first = openStore(dir);
  assert.deepEqual(readdirSync(join(dir, "tmp")), []);
  first.store.scratch("this-build");
  first.release();
  assert.deepEqual(readdirSync(join(dir, "tmp")), []);
});
