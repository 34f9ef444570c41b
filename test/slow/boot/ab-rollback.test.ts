// Slow tier: GRUB runs the A/B state machine rendered from ic-os/bootloader/boot-cycle.json.
// A disk whose grubenv says "B, first_boot" (what an upgrade commit leaves) boots B once; the
// healthy system confirms itself (icos-confirm), so the next boot stays on B. The other way out,
// an unconfirmed B falling back to A, is driven through real upgrades in test/slow/upgrade/.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { icos } from "../../helpers/cli.ts";
import { ensureGuestosBase, sharedBuild } from "../../helpers/build.ts";
import { nthLine, rebootFromConsole } from "../../helpers/vm.ts";
import { scratch } from "../../helpers/tmp.ts";
import { ROOT } from "../../../src/paths.ts";
import { encodeGrubenv } from "../../../src/formats/grubenv.ts";
import { readGpt } from "../../../src/image/disk.ts";
import { vfatPutFile } from "../../../src/image/vfat.ts";
import { startVm } from "../../../src/vm/vm.ts";
import { READY_LINE } from "../../../src/vm/console.ts";

const BOOT_MS = 300_000;

before(() => ensureGuestosBase());

test("a committed slot B boots once, confirms itself, and stays B on the next boot", async (t) => {
  const dir = scratch(t, "icos-ab-");
  const json = sharedBuild<{ outDir: string }>(["guestos/dev", "--scale", "1/64", "--fill-b"]);
  const disk = join(dir, "disk.img");
  copyFileSync(join(json.outDir, "disk.img"), disk);
  const grub = readGpt(disk).disk.partitions.find((p) => p.name === "grub")!;
  writeFileSync(join(dir, "grubenv"), encodeGrubenv({ boot_alternative: "B", boot_cycle: "first_boot" }));
  await vfatPutFile(disk, grub.firstLba * 512, join(dir, "grubenv"), "grubenv");

  const media = join(dir, "config.img");
  const r = icos(["config", "guestos", "--config", join(ROOT, "examples/qemu-node.json"), "--out", media]);
  assert.equal(r.code, 0, r.stderr);
  const vm = await startVm({ disk, configMedia: media, name: "ab-test" });
  t.after(() => vm.stop());

  assert.match(await vm.waitFor(/icos: booting slot/, BOOT_MS), /slot B from hd0,gpt7 \(boot_cycle now failsafe_check\)/);
  await vm.waitFor(/dfinity\.system=B/, BOOT_MS); // the kernel command line of slot B
  await vm.waitReady(BOOT_MS);

  await vm.waitFor(/icos-confirm: slot B confirmed: version 0\.0\.0, boot_cycle stable/, BOOT_MS);

  const second = nthLine(vm, /icos: booting slot/, 2, BOOT_MS);
  const ready = nthLine(vm, READY_LINE, 2, BOOT_MS);
  await rebootFromConsole(vm);
  assert.match(await second, /slot B from hd0,gpt7 \(boot_cycle now stable\)/);
  assert.match(await ready, /state=running failed=0/);
});
