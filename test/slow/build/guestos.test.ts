// Slow tier: build GuestOS images from the real Dockerfiles and boot them in QEMU.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, writeSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { icos } from "../../helpers/cli.ts";
import { ensureGuestosBase, icosJson, sharedBuild } from "../../helpers/build.ts";
import { scratch } from "../../helpers/tmp.ts";
import { ROOT } from "../../../src/paths.ts";
import type { StageReport } from "../../../src/build/progress.ts";
import { blockSha256 } from "../../../src/fs/sparse.ts";
import { run } from "../../../src/exec.ts";
import { startVm } from "../../../src/vm/vm.ts";

const SCALE = "1/64";
/** The build every test here shares (and the config tests too): with the release archives. */
const DEV = ["guestos/dev", "--scale", SCALE, "--artifacts"];

/** The CONFIG media of examples/qemu-node.json: a GuestOS boots cleanly only when configured. */
function exampleMedia(t: Parameters<typeof scratch>[0]): string {
  const media = join(scratch(t, "icos-media-"), "config.img");
  const r = icos(["config", "guestos", "--config", join(ROOT, "examples/qemu-node.json"), "--out", media]);
  assert.equal(r.code, 0, r.stderr);
  return media;
}

interface BuildJson {
  outDir: string;
  manifest: { inputs: { baseImage: string }; sha256: Record<string, string>; blockSha256: Record<string, string>; partitions: { name: string; startLba: number; blockSha256: string }[] };
  stages: StageReport[];
}
interface RunJson {
  ready: boolean;
  seconds: number;
  serialLog: string;
}

const stageCache = (b: BuildJson) => Object.fromEntries(b.stages.map((s) => [s.stage, s.cache]));
const lockedBase = (flavour: string) => (JSON.parse(readFileSync(join(ROOT, "ic-os/guestos/base.lock.json"), "utf8")) as Record<string, { image: string }>)[flavour]!.image;

/** A copy of ic-os/ that a test may change, and an out/ of its own. */
function definitionsCopy(t: Parameters<typeof scratch>[0]): { env: Record<string, string>; dir: string } {
  const dir = scratch(t, "icos-defs-");
  cpSync(join(ROOT, "ic-os"), join(dir, "ic-os"), { recursive: true });
  return { dir: join(dir, "ic-os"), env: { ICOS_IC_OS_DIR: join(dir, "ic-os"), ICOS_OUT_DIR: join(dir, "out") } };
}

/**
 * update-img.tar.zst holds the disk's A boot and root partitions and the version; the -test
 * image is the same system with "<version>-test" in VERSION.TXT and both version files.
 */
async function checkUpdateImages(t: Parameters<typeof scratch>[0], b: BuildJson): Promise<void> {
  const dir = scratch(t, "icos-update-");
  const partDigest = (name: string) => b.manifest.partitions.find((p) => p.name === name)!.blockSha256;
  for (const [file, version] of [["update-img.tar.zst", "0.0.0"], ["update-img-test.tar.zst", "0.0.0-test"]] as const) {
    const into = join(dir, file);
    mkdirSync(into);
    await run("tar", ["--zstd", "-xf", join(b.outDir, file), "-C", into]);
    assert.deepEqual(readdirSync(into).sort(), ["VERSION.TXT", "boot.img", "root.img"], file);
    assert.equal(readFileSync(join(into, "VERSION.TXT"), "utf8"), `${version}\n`, file);
    assert.equal((await run("debugfs", ["-R", "cat /version.txt", join(into, "boot.img")])).stdout, `${version}\n`, file);
    assert.equal((await run("debugfs", ["-R", "cat /opt/ic/share/version.txt", join(into, "root.img")])).stdout, `${version}\n`, file);
    await run("e2fsck", ["-fn", join(into, "root.img")]);
    if (version === "0.0.0") {
      assert.equal(await blockSha256(join(into, "boot.img")), partDigest("A_boot"));
      assert.equal(await blockSha256(join(into, "root.img")), partDigest("A_root"));
    }
  }
}

describe("guestos images", { concurrency: false }, () => {
  before(() => ensureGuestosBase());

  test("guestos/dev builds from the pinned base and boots to ready with no failed unit", async (t) => {
    const b = sharedBuild<BuildJson>(DEV);
    assert.equal(b.manifest.inputs.baseImage, lockedBase("dev"));
    for (const f of ["disk.img", "disk-img.tar.zst", "update-img.tar.zst", "update-img-test.tar.zst", "SHA256SUMS", "BLOCKSUMS", "manifest.json"]) assert.ok(existsSync(join(b.outDir, f)), f);
    await checkUpdateImages(t, b);
    const { json: r } = icosJson<RunJson>(["run", join(b.outDir, "disk.img"), "--config-media", exampleMedia(t), "--wait-ready", "--timeout", "300"]);
    assert.equal(r.ready, true);
    t.diagnostic(`guestos/dev ready after ${r.seconds}s`);
  });

  test("one flipped byte in the verity root stops the boot with a verity error on the console", async (t) => {
    const b = sharedBuild<BuildJson>(DEV);
    const copy = join(scratch(t, "icos-verity-"), "disk.img");
    await run("cp", ["--sparse=always", join(b.outDir, "disk.img"), copy]);
    // The first block of systemd (PID 1), found in the root filesystem of slot A.
    const root = b.manifest.partitions.find((p) => p.name === "A_root")!.startLba * 512;
    const { stdout } = await run("debugfs", ["-R", "blocks /usr/lib/systemd/systemd", `${copy}?offset=${root}`]);
    const block = Number(stdout.trim().split(/\s+/)[0]);
    assert.ok(block > 0, stdout);
    const fd = openSync(copy, "r+");
    const at = root + block * 4096 + 100;
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, at);
    writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, at);
    closeSync(fd);
    const vm = await startVm({ disk: copy, name: "verity-tamper" });
    t.after(() => vm.stop());
    const line = await vm.waitFor(/verity: .*data block \d+ is corrupted/, 300_000);
    t.diagnostic(line.trim());
    assert.doesNotMatch(readFileSync(vm.serialLog, "latin1"), /icos-ready:/, "the tampered root never comes up");
  });

  test("a rebuild with nothing changed does no work", () => {
    const b = sharedBuild<BuildJson>(DEV);
    assert.deepEqual(new Set(Object.values(stageCache(b))), new Set(["hit"]), JSON.stringify(b.stages));
  });

  test("changing one component file reruns the root filesystem onward (never the Dockerfile or the base), and gives a cold build's bytes", (t) => {
    const defs = definitionsCopy(t);
    // A change never built before (the cache outlives test runs), so the rootfs stage must miss.
    appendFileSync(join(defs.dir, "components/base-config/etc/fstab"), `# changed by a test: ${randomUUID()}\n`);
    const { json: b } = icosJson<BuildJson>(["build", "guestos/dev", "--scale", SCALE], { env: defs.env });
    const cache = stageCache(b);
    assert.deepEqual(cache, { image: "hit", rootfs: "miss", bootloader: "hit", disk: "miss" });
    assert.equal(b.manifest.inputs.baseImage, lockedBase("dev"));
    // The same definitions from an empty stage store: the same disk, byte for byte.
    const cold = icosJson<BuildJson>(["build", "guestos/dev", "--scale", SCALE], { env: { ...defs.env, ICOS_CACHE_DIR: scratch(t, "icos-cache-"), ICOS_OUT_DIR: scratch(t, "icos-out-") } }).json;
    assert.equal(stageCache(cold).rootfs, "miss");
    assert.deepEqual(cold.manifest.blockSha256, b.manifest.blockSha256);
    assert.deepEqual(cold.manifest.partitions, b.manifest.partitions);
  });

  test("guestos/prod boots to ready and its console offers no login", (t) => {
    const b = sharedBuild<BuildJson>(["guestos/prod", "--scale", SCALE]);
    const { json: r } = icosJson<RunJson>(["run", join(b.outDir, "disk.img"), "--config-media", exampleMedia(t), "--wait-ready", "--timeout", "300"]);
    assert.equal(r.ready, true);
    const serial = readFileSync(r.serialLog, "utf8");
    assert.match(serial, /icos-ready: state=running failed=0/);
    assert.match(serial, /GUESTOS BOOT SUCCESS\r?$/m);
    assert.doesNotMatch(serial, /login:/);
    t.diagnostic(`guestos/prod ready after ${r.seconds}s`);
  });

  test("two builds with empty caches give identical artifacts and partitions", () => {
    const { json } = icosJson<{ identical: boolean; differences: string[] }>(["verify", "guestos/dev", "--scale", SCALE, "--artifacts"]);
    assert.equal(json.identical, true, json.differences.join("\n"));
  });

  for (const [what, edit, message] of [
    ["a broken Dockerfile", (dir: string) => appendFileSync(join(dir, "guestos/context/Dockerfile"), "RUN false\n"), /Dockerfile \(guestos\/dev\) failed/],
    ["a missing context file", (dir: string) => appendFileSync(join(dir, "guestos/context/Dockerfile"), "COPY no-such-file /\n"), /no-such-file/],
  ] as const) {
    test(`${what} fails clearly and leaves nothing a later build would use`, (t) => {
      const defs = definitionsCopy(t);
      edit(defs.dir);
      const cache = scratch(t, "icos-cache-");
      const r = icos(["build", "guestos/dev", "--scale", SCALE], { env: { ...defs.env, ICOS_CACHE_DIR: cache } });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /internal error/);
      assert.ok(!existsSync(join(defs.env.ICOS_OUT_DIR!, "guestos")), "nothing in out/");
      assert.deepEqual(readdirSync(join(cache, "objects")), [], "no stage committed");
      assert.deepEqual(readdirSync(join(cache, "tmp")), [], "no temp left");
    });
  }
});
