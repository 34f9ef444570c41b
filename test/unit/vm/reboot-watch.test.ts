// The hung-reset watch: armed by the kernel's restart line, disarmed by any later line, firing
// once per reset after the stall time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RebootWatch } from "../../../src/vm/reboot-watch.ts";

test("a restart line followed by silence is a hung reset, reported once", () => {
  const w = new RebootWatch(30_000);
  w.saw("[  100.3] reboot: machine restart", 1_000);
  assert.equal(w.stalled(20_000), false, "not yet");
  assert.equal(w.stalled(31_000), true);
  assert.equal(w.stalled(60_000), false, "once per reset");
});

test("firmware output after the restart line disarms the watch; other lines never arm it", () => {
  const w = new RebootWatch(30_000);
  w.saw("[   95.0] reboot: Restarting system", 0);
  w.saw("BdsDxe: loading Boot0001", 2_000);
  assert.equal(w.stalled(100_000), false);
  w.saw("icos-ready: state=running failed=0", 0);
  assert.equal(w.stalled(100_000), false);
});
