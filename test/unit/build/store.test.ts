import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { SHA256_CHECKED_MAX, Store } from "../../../src/build/store.ts";
import { scratch } from "../../helpers/tmp.ts";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

test("store: put commits by rename, get finds it with its meta", async (t) => {
  const store = new Store(scratch(t));
  const entry = await store.put("disk", "abc", async (dir) => {
    writeFileSync(join(dir, "disk.img"), "bytes");
    return { sizeBytes: 5 };
  });
  assert.equal(entry.path, join(store.objects, "disk", "abc"));
  const meta = { stage: "disk", digest: "abc", sizeBytes: 5, files: { "disk.img": { size: 5, sha256: sha("bytes") } } };
  assert.deepEqual(entry.meta, meta);
  assert.deepEqual(store.get("disk", "abc")?.meta, meta);
  assert.deepEqual(JSON.parse(readFileSync(join(entry.path, "meta.json"), "utf8")), meta);
  assert.deepEqual(readdirSync(store.tmp), []);
});

test("store: a failed stage commits nothing and leaves no temp", async (t) => {
  const store = new Store(scratch(t));
  await assert.rejects(
    store.put("disk", "abc", async (dir) => {
      writeFileSync(join(dir, "half.img"), "half");
      throw new Error("tool failed");
    }),
    /tool failed/,
  );
  assert.equal(store.get("disk", "abc"), undefined);
  assert.ok(!existsSync(join(store.objects, "disk", "abc")));
  assert.deepEqual(readdirSync(store.tmp), []);
});

test("store: an entry without meta.json (a killed commit) is not trusted and is replaced", async (t) => {
  const store = new Store(scratch(t));
  mkdirSync(join(store.objects, "disk", "abc"), { recursive: true });
  writeFileSync(join(store.objects, "disk", "abc", "disk.img"), "torn");
  assert.equal(store.get("disk", "abc"), undefined);
  await store.put("disk", "abc", async (dir) => (writeFileSync(join(dir, "disk.img"), "whole"), {}));
  assert.ok(store.get("disk", "abc"));
});

test("store: sweep removes what killed builds left in tmp/", (t) => {
  const store = new Store(scratch(t));
  store.scratch("rootfs-guestos");
  assert.equal(readdirSync(store.tmp).length, 1);
  store.sweep();
  assert.deepEqual(readdirSync(store.tmp), []);
});

/**
 * A committed bootloader-like entry: a large file (sparse, above SHA256_CHECKED_MAX: size
 * recorded, not its sha256), a small one, and one in a subdirectory. Notes go to `notes`.
 */
async function committed(t: TestContext): Promise<{ store: Store; path: string; notes: string[] }> {
  const store = new Store(scratch(t));
  const notes: string[] = [];
  store.note = (line) => notes.push(line);
  const entry = await store.put("bootloader", "d1g", async (dir) => {
    writeFileSync(join(dir, "esp.img"), "");
    truncateSync(join(dir, "esp.img"), 4 * SHA256_CHECKED_MAX);
    writeFileSync(join(dir, "grub.img"), "grub bytes");
    mkdirSync(join(dir, "files", "grub"), { recursive: true });
    writeFileSync(join(dir, "files", "grub", "grub.cfg"), "set timeout=0\n");
    return { sha256: { "esp.img": "e", "grub.img": "g" } };
  });
  assert.ok(store.get("bootloader", "d1g"));
  return { store, path: entry.path, notes };
}

test("store: put records every file of the entry in meta.json: its size, and its sha256 when small (else its mtime)", async (t) => {
  const { store, path, notes } = await committed(t);
  assert.deepEqual(store.get("bootloader", "d1g")?.meta.files, {
    "esp.img": { size: 4 * SHA256_CHECKED_MAX, mtimeMs: statSync(join(path, "esp.img")).mtimeMs },
    "files/grub/grub.cfg": { size: 14, sha256: sha("set timeout=0\n") },
    "grub.img": { size: 10, sha256: sha("grub bytes") },
  });
  assert.ok(existsSync(path));
  assert.deepEqual(notes, []);
});

/** get() of the damaged entry is a miss: it is removed, with a note naming it and what is wrong; put rebuilds it. */
async function assertMiss(store: Store, path: string, notes: string[], problem: RegExp): Promise<void> {
  assert.equal(store.get("bootloader", "d1g"), undefined);
  assert.ok(!existsSync(path), "the damaged entry is removed");
  assert.equal(notes.length, 1);
  assert.match(notes[0]!, /^cache: bootloader\/d1g is damaged \(/);
  assert.match(notes[0]!, problem);
  await store.put("bootloader", "d1g", async (dir) => (writeFileSync(join(dir, "grub.img"), "grub bytes"), {}));
  assert.ok(store.get("bootloader", "d1g"));
}

test("store: a committed entry with a truncated file is a miss, removed and rebuilt", async (t) => {
  const { store, path, notes } = await committed(t);
  truncateSync(join(path, "esp.img"), SHA256_CHECKED_MAX);
  await assertMiss(store, path, notes, /esp\.img is 1048576 bytes, 4194304 when committed/);
});

test("store: a committed entry with a deleted file is a miss", async (t) => {
  const { store, path, notes } = await committed(t);
  rmSync(join(path, "files", "grub", "grub.cfg"));
  await assertMiss(store, path, notes, /files\/grub\/grub\.cfg is missing/);
});

test("store: a large file written in place after the commit (e.g. through out/'s hard link) is a miss", async (t) => {
  const { store, path, notes } = await committed(t);
  const fd = openSync(join(path, "esp.img"), "r+");
  writeSync(fd, Buffer.from("changed"), 0, 7, 12345);
  closeSync(fd);
  utimesSync(join(path, "esp.img"), new Date(), new Date(Date.now() + 5000));
  await assertMiss(store, path, notes, /esp\.img was written after it was committed/);
});

test("store: a small file of the same size but other bytes is a miss (its sha256 is checked)", async (t) => {
  const { store, path, notes } = await committed(t);
  writeFileSync(join(path, "grub.img"), "grub BYTES");
  await assertMiss(store, path, notes, /grub\.img's sha256 is not the one committed/);
});

test("store: an unparsable meta.json is a miss", async (t) => {
  const { store, path, notes } = await committed(t);
  writeFileSync(join(path, "meta.json"), '{"stage": "bootloader", "dig');
  await assertMiss(store, path, notes, /meta\.json does not parse/);
});

test("store: an entry without the file record (committed by an older icos, unchecked) is a miss", async (t) => {
  const { store, path, notes } = await committed(t);
  const meta = JSON.parse(readFileSync(join(path, "meta.json"), "utf8")) as Record<string, unknown>;
  delete meta.files;
  writeFileSync(join(path, "meta.json"), JSON.stringify(meta));
  await assertMiss(store, path, notes, /no record of the entry's files/);
});

test("store: a stage may not return a meta key \"files\" (the store's own)", async (t) => {
  const store = new Store(scratch(t));
  await assert.rejects(store.put("disk", "abc", async () => ({ files: [] })), /meta key "files"/);
  assert.deepEqual(readdirSync(store.tmp), []);
});
