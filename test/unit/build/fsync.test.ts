// Commits are durable: the store and out/ fsync everything they are about to rename into place,
// rename, then fsync the directory the name is in. Checked on the system calls themselves
// (strace); skipped where strace is missing or cannot trace.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { scratch } from "../../helpers/tmp.ts";

const SRC = resolve(import.meta.dirname, "../../../src");

interface Call {
  op: "fsync" | "rename";
  path: string;
  to?: string;
}

/** The fsync and rename calls of `code` (an ES module run by node --import tsx), in order, or a reason to skip. */
function trace(dir: string, code: string): Call[] | string {
  const log = join(dir, "strace.log");
  const r = spawnSync("strace", ["-f", "-qq", "-y", "-e", "trace=fsync,rename,renameat,renameat2", "-o", log, process.execPath, "--import", "tsx", "--input-type=module", "-e", code], {
    cwd: resolve(SRC, ".."),
    encoding: "utf8",
  });
  if (r.error) return `strace is not available (${r.error.message})`;
  if (r.status !== 0) {
    if (/ptrace|Operation not permitted/i.test(r.stderr)) return `strace cannot trace here: ${r.stderr.trim()}`;
    assert.fail(`the traced script failed (${r.status}):\n${r.stderr}`);
  }
  const calls: Call[] = [];
  for (const line of readFileSync(log, "utf8").split("\n")) {
    const f = /fsync\(\d+<([^>]+)>/.exec(line);
    if (f) calls.push({ op: "fsync", path: f[1]! });
    const m = /rename(?:at2?)?\((?:AT_FDCWD(?:<[^>]*>)?, )?"([^"]+)", (?:AT_FDCWD(?:<[^>]*>)?, )?"([^"]+)"/.exec(line);
    if (m) calls.push({ op: "rename", path: m[1]!, to: m[2]! });
  }
  return calls;
}

/** Every path in `synced` is fsynced before the rename of `from`, and `parent` after it. */
function assertDurableRename(calls: Call[], from: string, to: string, synced: string[], parent: string): void {
  const at = calls.findIndex((c) => c.op === "rename" && c.path === from && c.to === to);
  assert.ok(at >= 0, `no rename ${from} -> ${to} in\n${JSON.stringify(calls, null, 1)}`);
  const before = new Set(calls.slice(0, at).filter((c) => c.op === "fsync").map((c) => c.path));
  for (const p of synced) assert.ok(before.has(p), `${p} was not fsynced before the rename`);
  assert.ok(calls.slice(at + 1).some((c) => c.op === "fsync" && c.path === parent), `${parent} was not fsynced after the rename`);
}

test("fsync: Store.put fsyncs every file and directory of the entry, renames, then fsyncs objects/<stage>/", (t) => {
  const dir = scratch(t);
  const calls = trace(dir, `
import { mkdirSync, writeFileSync } from "node:fs";
import { Store } from ${JSON.stringify(join(SRC, "build/store.ts"))};
const store = new Store(${JSON.stringify(join(dir, "cache"))});
await store.put("disk", "abc", async (d) => {
  writeFileSync(d + "/disk.img", "bytes");
  mkdirSync(d + "/sub");
  writeFileSync(d + "/sub/file", "more");
  return {};
});
`);
  if (typeof calls === "string") return t.skip(calls);
  const commit = calls.find((c) => c.op === "rename" && c.to === join(dir, "cache/objects/disk/abc"));
  assert.ok(commit, "no commit rename");
  const work = commit.path;
  assertDurableRename(calls, work, commit.to!, [`${work}/disk.img`, `${work}/sub/file`, `${work}/sub`, `${work}/meta.json`, work], join(dir, "cache/objects/disk"));
});

test("fsync: writeOut fsyncs every file of out/ and the directory, swaps it in, then fsyncs its parent", (t) => {
  const dir = scratch(t);
  const out = join(dir, "out/guestos/dev");
  const calls = trace(dir, `
import { writeFileSync } from "node:fs";
import { writeOut } from ${JSON.stringify(join(SRC, "build/pipeline.ts"))};
writeFileSync(${JSON.stringify(join(dir, "disk.img"))}, "disk");
await writeOut(${JSON.stringify(out)}, { "disk.img": ${JSON.stringify(join(dir, "disk.img"))} }, { sha256: {}, blockSha256: { "disk.img": "00" } }, "{}\\n");
`);
  if (typeof calls === "string") return t.skip(calls);
  const swap = calls.find((c) => c.op === "rename" && c.to === out);
  assert.ok(swap, "no rename into out/");
  const tmp = swap.path;
  assertDurableRename(calls, tmp, out, [`${tmp}/disk.img`, `${tmp}/BLOCKSUMS`, `${tmp}/manifest.json`, tmp], join(dir, "out/guestos"));
});
