// Slow tier: an OS that is not IC-OS (test/fixtures/os/tinyos: its own os.yaml, layout,
// Dockerfiles and one component) builds and boots through the same code with no TypeScript
// written for it; a variant that embeds another target's disk image keys its disk on that image.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { icos } from "../../helpers/cli.ts";
import { icosJson } from "../../helpers/build.ts";
import { scratch } from "../../helpers/tmp.ts";
import { ROOT } from "../../../src/paths.ts";
import type { StageReport } from "../../../src/build/progress.ts";
import { blockSha256 } from "../../../src/fs/sparse.ts";
import { startVm } from "../../../src/vm/vm.ts";

const BOOT_MS = 300_000;

interface BuildJson {
  outDir: string;
  manifest: { blockSha256: Record<string, string>; partitions: { name: string; blockSha256: string }[] };
  stages: StageReport[];
}

let env: Record<string, string>;
// A definitions folder holding only tinyos, its component and the shared GRUB templates.
const dir = mkdtempSync(join(tmpdir(), "icos-tinyos-"));
after(() => rmSync(dir, { recursive: true, force: true }));

before(() => {
  const defs = join(dir, "ic-os");
  cpSync(join(ROOT, "test/fixtures/os"), defs, { recursive: true });
  cpSync(join(ROOT, "ic-os/bootloader"), join(defs, "bootloader"), { recursive: true });
  env = { ICOS_IC_OS_DIR: defs, ICOS_OUT_DIR: join(dir, "out") };
  const r = icos(["base", "update", "tinyos", "--if-missing"], { env });
  assert.equal(r.code, 0, `base update tinyos failed:\n${r.stderr}`);
});

test("tinyos/dev builds with the ab-gpt-disk recipe and boots; its component reads the device contract", async (t) => {
  const { json: b } = icosJson<BuildJson>(["build", "tinyos/dev"], { env });
  assert.deepEqual(b.stages.map((s) => s.stage), ["image", "rootfs", "bootloader", "disk"]);
  assert.deepEqual(b.manifest.partitions.map((p) => p.name), ["esp", "grub", "A_boot", "A_root", "B_boot", "B_root"]);

  const vm = await startVm({ disk: join(b.outDir, "disk.img"), name: "tinyos" });
  t.after(() => vm.stop());
  assert.match(await vm.waitFor(/tinyos-hello: .*/, BOOT_MS), /tinyos-hello: tinyos booted slot A \(boot device \/dev\/disk\/by-partlabel\/A_boot\)/);
  const ready = await vm.waitReady(BOOT_MS);
  assert.equal(ready.ok, true, `not ready: state=${ready.state} failed=${ready.failed}`);
});

test("tinyos/carrier embeds tinyos/dev's disk image; a change to tinyos/dev rebuilds the carrier's disk", async (t) => {
  const { json: dev } = icosJson<BuildJson>(["build", "tinyos/dev"], { env });
  const { json: carrier } = icosJson<BuildJson>(["build", "tinyos/carrier"], { env });
  const payload = carrier.manifest.partitions.find((p) => p.name === "payload")!;
  assert.equal(payload.blockSha256, dev.manifest.blockSha256["disk.img"], "the payload partition holds tinyos/dev's disk.img");
  // tinyos/dev's own stages ran first (cached, and no archives: only its disk is embedded), then the carrier's.
  assert.deepEqual(carrier.stages.filter((s) => s.subject.startsWith("tinyos/dev")).map((s) => [s.stage, s.cache]), [["image", "hit"], ["rootfs", "hit"], ["disk", "hit"]]);

  // Another version of tinyos/dev gives another disk, so the carrier's disk is built again.
  const { json: carrier2 } = icosJson<BuildJson>(["build", "tinyos/carrier", "--image-version", "0.0.1"], { env: { ...env, ICOS_OUT_DIR: join(scratch(t), "out") } });
  const disk2 = carrier2.stages.find((s) => s.stage === "disk" && s.subject.startsWith("tinyos/carrier"))!;
  assert.equal(disk2.cache, "miss");
  assert.notEqual(carrier2.manifest.partitions.find((p) => p.name === "payload")!.blockSha256, payload.blockSha256);
  assert.equal(await blockSha256(join(carrier2.outDir, "disk.img")), carrier2.manifest.blockSha256["disk.img"]);
});
