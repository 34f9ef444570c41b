import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Store } from "../../../src/build/store.ts";
import { openStore } from "../../../src/build/cache.ts";
import { UserError } from "../../../src/errors.ts";
import { scratch } from "../../helpers/tmp.ts";

test("store: put commits by rename, get finds it with its meta", async (t) => {
  const store = new Store(scratch(t));
  const entry = await store.put("disk", "abc", async (dir) => {
    writeFileSync(join(dir, "disk.img"), "bytes");
    return { sizeBytes: 5 };
  });
  assert.equal(entry.path, join(store.objects, "disk", "abc"));
  assert.deepEqual(store.get("disk", "abc")?.meta, { stage: "disk", digest: "abc", sizeBytes: 5 });
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

test("cache lock: a second build is refused while the first runs; a dead owner's lock is taken over", (t) => {
  const dir = scratch(t);
  const first = openStore(dir);
  assert.throws(() => openStore(dir), (e: unknown) => e instanceof UserError && /another icos build \(pid \d+\) is using the cache/.test(e.message));
  first.release();
  writeFileSync(join(dir, "lock"), "999999999"); // no such process
  const second = openStore(dir);
  second.release();
  assert.ok(!existsSync(join(dir, "lock")));
});
