// Pruning the stage store (`icos clean`) on a real store in a temp dir: last use is the entry's
// directory mtime (set on commit and on every hit), sizes are allocated blocks (a sparse file
// counts what it holds), entries named by an output directory's manifest and everything while a
// build holds the cache lock are kept, least recently used go first until the store fits.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readdirSync, statSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../../src/build/cache.ts";
import { Store } from "../../../src/build/store.ts";
import { allocatedBytes, cacheBudget, digestsInUse, planPrune, pruneStore, storeObjects, warnIfOverBudget, type StoreObject } from "../../../src/build/store-prune.ts";
import { UserError } from "../../../src/errors.ts";
import { icosAsync } from "../../helpers/cli.ts";
import { fakeVm } from "../../helpers/fake-qemu.ts";
import { scratch } from "../../helpers/tmp.ts";

const MiB = 1 << 20;
const DAY = 86_400;

/** Commit an entry holding `mib` MiB of data, last used `daysAgo` days ago. */
async function entry(store: Store, stage: string, digest: string, mib: number, daysAgo: number): Promise<string> {
  const e = await store.put(stage, digest, async (dir) => {
    writeFileSync(join(dir, "data"), randomBytes(mib * MiB));
    return {};
  });
  const t = Date.now() / 1000 - daysAgo * DAY;
  utimesSync(e.path, t, t);
  return e.path;
}

const digest = (n: number) => String(n).repeat(64);

function manifest(out: string, target: string, stages: { stage: string; digest: string }[]): void {
  mkdirSync(join(out, target), { recursive: true });
  writeFileSync(join(out, target, "manifest.json"), JSON.stringify({ target, stages }));
}

describe("store pruning", { timeout: 120_000 }, () => {
  test("a lookup marks the entry used now; sizes are allocated blocks, each inode once", async (t) => {
    const dir = scratch(t, "icos-prune-");
    const store = new Store(join(dir, "cache"));
    const path = await entry(store, "disk", digest(1), 1, 10);
    assert.ok(Date.now() - statSync(path).mtimeMs > 9 * DAY * 1000);
    assert.ok(store.get("disk", digest(1)));
    assert.ok(Date.now() - statSync(path).mtimeMs < 60_000, "a hit is a use");
    // A 1 GiB file holding 4 KiB, and a hard link to it: about 4 KiB, once.
    const sparse = join(dir, "sparse");
    const fd = openSync(sparse, "w");
    writeSync(fd, randomBytes(4096), 0, 4096, 512 * MiB);
    closeSync(fd);
    linkSync(sparse, join(dir, "link"));
    const bytes = await allocatedBytes(join(dir, "sparse"));
    assert.ok(bytes >= 4096 && bytes <= 64 * 1024, `${bytes} bytes allocated`);
    mkdirSync(join(dir, "both"));
    linkSync(sparse, join(dir, "both", "a"));
    linkSync(sparse, join(dir, "both", "b"));
    assert.ok((await allocatedBytes(join(dir, "both"))) < bytes + 16 * 1024, "a hard-linked file is counted once");
  });

  test("plan: least recently used first, in-use kept, stop once the store fits; all: everything", () => {
    const o = (name: string, bytes: number, lastUsed: number, inUse = false): StoreObject => ({ stage: "s", digest: name, path: `/x/${name}`, bytes, lastUsed, inUse });
    const objects = [o("new", 10, 500), o("oldest-in-use", 10, 100, true), o("old", 10, 200), o("older", 10, 150), o("mid", 10, 300)];
    const names = (l: StoreObject[]) => l.map((x) => x.digest);
    assert.deepEqual(names(planPrune(objects, 50).remove), []);
    assert.deepEqual(names(planPrune(objects, 30).remove), ["old", "older"]);
    assert.deepEqual(names(planPrune(objects, 0).remove), ["new", "old", "older", "mid"], "in-use stays even over budget");
    assert.deepEqual(names(planPrune(objects, 1000, true).remove), names(objects));
  });

  test("budget: --budget, else ICOS_CACHE_BUDGET, else 30G; a bad value names where it came from", () => {
    assert.deepEqual(cacheBudget(undefined, {}), { bytes: 30 * 1024 * MiB, text: "30G", source: "default" });
    assert.deepEqual(cacheBudget(undefined, { ICOS_CACHE_BUDGET: "40G" }), { bytes: 40 * 1024 * MiB, text: "40G", source: "ICOS_CACHE_BUDGET" });
    assert.equal(cacheBudget("500M", { ICOS_CACHE_BUDGET: "40G" }).bytes, 500 * MiB);
    assert.throws(() => cacheBudget(undefined, { ICOS_CACHE_BUDGET: "lots" }), (e: unknown) => e instanceof UserError && /^ICOS_CACHE_BUDGET: expected a size like "512M", got "lots"/.test(e.message));
    assert.throws(() => cacheBudget("-1G"), (e: unknown) => e instanceof UserError && /^--budget: .*cannot be negative/.test(e.message));
  });

  test("prune: keeps what out/ manifests name, removes LRU down to the budget; dry run removes nothing; a build's lock leaves the store alone", async (t) => {
    const dir = scratch(t, "icos-prune-");
    const cache = join(dir, "cache");
    const out = join(dir, "out");
    const store = new Store(cache);
    const paths = [
      await entry(store, "image", digest(1), 2, 30), // oldest, but the current build of guestos/dev uses it
      await entry(store, "disk", digest(2), 2, 20),
      await entry(store, "disk", digest(3), 2, 10),
      await entry(store, "rootfs", digest(4), 2, 1),
    ];
    mkdirSync(join(cache, "tmp", "artifacts-killed"), { recursive: true });
    writeFileSync(join(cache, "tmp", "artifacts-killed", "x"), randomBytes(MiB));
    manifest(out, "guestos/dev", [{ stage: "image", digest: digest(1) }]);
    assert.deepEqual([...digestsInUse([out, join(dir, "missing")])], [`image/${digest(1)}`]);
    const objects = await storeObjects(cache);
    const per = objects[0]!.bytes;
    // Room for a little more than two entries: the in-use one and the newest stay.
    const budget = { bytes: Math.floor(per * 2.5), text: "test", source: "--budget" as const };

    const dry = await pruneStore({ cache, outRoots: [out], budget, dryRun: true });
    assert.deepEqual(dry.removed.map((r) => r.digest), [digest(2), digest(3)]);
    assert.ok(paths.every((p) => existsSync(p)), "a dry run removes nothing");
    assert.equal(dry.kept.inUse, 1);

    const held = openStore(cache, { waitSeconds: 0 });
    try {
      const locked = await pruneStore({ cache, outRoots: [out], budget });
      assert.match(locked.storeLockedBy ?? "", /another icos build \(pid \d+\) holds the cache lock/);
      assert.deepEqual(locked.removed, []);
      assert.ok(paths.every((p) => existsSync(p)), "nothing removed while a build holds the lock");
    } finally {
      held.release();
    }

    writeFileSync(join(cache, "tmp", "left-by-a-kill"), randomBytes(MiB));
    const r = await pruneStore({ cache, outRoots: [out], budget });
    assert.deepEqual(r.removed.map((x) => `${x.stage}/${x.digest}`), [`disk/${digest(2)}`, `disk/${digest(3)}`]);
    assert.deepEqual(paths.map((p) => existsSync(p)), [true, false, false, true]);
    assert.deepEqual(readdirSync(join(cache, "tmp")), [], "temp files of killed builds go too");
    assert.ok(r.freedBytes >= 2 * per + MiB);
    assert.ok(store.get("image", digest(1)), "the kept entries are intact");

    const all = await pruneStore({ cache, outRoots: [out], budget, all: true });
    assert.equal(all.removed.length, 2);
    assert.deepEqual(readdirSync(join(cache, "objects", "image")), []);
  });

  test("warnIfOverBudget: one line with the size, the budget and the command; silent under it; never throws", async (t) => {
    const dir = scratch(t, "icos-prune-");
    const store = new Store(join(dir, "cache"));
    await entry(store, "disk", digest(9), 3, 0);
    const lines: string[] = [];
    const over = await warnIfOverBudget(store, { env: { ICOS_CACHE_BUDGET: "1M" }, note: (l) => lines.push(l) });
    assert.equal(over.over, true);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^warning: the stage store .*\/cache holds 3\.\dM, over its budget of 1M \(ICOS_CACHE_BUDGET\); `icos clean` removes the least recently used entries/);
    const under = await warnIfOverBudget(join(dir, "cache"), { env: { ICOS_CACHE_BUDGET: "1G" }, note: (l) => lines.push(l) });
    assert.deepEqual([under.over, lines.length], [false, 1]);
    const bad = await warnIfOverBudget(store, { env: { ICOS_CACHE_BUDGET: "huge" }, note: (l) => lines.push(l) });
    assert.equal(bad.budgetBytes, 30 * 1024 * MiB);
    assert.match(lines[1]!, /^warning: ICOS_CACHE_BUDGET: expected a size like "512M", got "huge".*; using the default budget 30G$/);
  });

  test("icos clean: the store and VM work dirs whose VM is gone (a running VM's stays); --json, --dry-run; bad input exit 2", async (t) => {
    const dir = scratch(t, "icos-clean-");
    const cache = join(dir, "cache");
    const env = { ICOS_CACHE_DIR: cache, ICOS_OUT_DIR: join(dir, "out") };
    const store = new Store(cache);
    await entry(store, "disk", digest(1), 1, 5);
    await entry(store, "disk", digest(2), 1, 1);
    const vm = await fakeVm(t, cache, { name: "running" });
    const dead = join(cache, "vm", "gone-abc123");
    mkdirSync(dead);
    writeFileSync(join(dead, "serial.log"), randomBytes(64 * 1024));
    const old = Date.now() / 1000 - 3600;
    utimesSync(dead, old, old);
    utimesSync(vm.rec.workDir, old, old);

    const bad = await icosAsync(["clean", "--budget", "some"], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: --budget: expected a size like "512M", got "some"/);
    const dry = await icosAsync(["clean", "--dry-run", "--budget", "1.5M"], { env });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^stage store .*: 2\.\dM in 2 entries; budget 1\.5M \(--budget\)\n  would remove 1 entry \(1\.\dM\), least recently used first\n    disk\/111111111111 +1\.\dM  last used \d{4}-\d\d-\d\d \d\d:\d\d\n  kept 1 \(1\.\dM\), 0 of them used/);
    assert.match(dry.stdout, /VM work dirs whose VM is gone: would remove 1 \(\d+K\)\n    .*gone-abc123/);
    assert.ok(existsSync(dead));
    const r = await icosAsync(["clean", "--json"], { env: { ...env, ICOS_CACHE_BUDGET: "1.5M" } });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { removed: { digest: string }[]; vmDirs: { path: string }[]; budget: { source: string }; freedBytes: number };
    assert.deepEqual(report.removed.map((x) => x.digest), [digest(1)]);
    assert.deepEqual(report.vmDirs.map((d) => d.path), [dead]);
    assert.equal(report.budget.source, "ICOS_CACHE_BUDGET");
    assert.equal(existsSync(dead), false);
    assert.equal(existsSync(vm.rec.workDir), true, "a running VM's work dir stays");
    const all = await icosAsync(["clean", "--all"], { env });
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /removed 1 entry/);
    assert.deepEqual(readdirSync(join(cache, "objects", "disk")), []);
  });
});
