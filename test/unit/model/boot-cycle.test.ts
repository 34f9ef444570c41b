import { test } from "node:test";
import assert from "node:assert/strict";
import { bootOnce, loadBootCycleTable, renderGrubStateMachine } from "../../../src/model/boot-cycle.ts";

const table = loadBootCycleTable();

test("boot cycle: stable boots the current slot and stays stable", () => {
  assert.deepEqual(bootOnce(table, { boot_alternative: "B", boot_cycle: "stable" }), { slot: "B", env: { boot_alternative: "B", boot_cycle: "stable" } });
  assert.deepEqual(bootOnce(table, {}), { slot: "A", env: { boot_alternative: "A", boot_cycle: "stable" } });
});

test("boot cycle: an upgrade that never confirms boots once, then falls back by itself", () => {
  // upgrade-commit leaves: boot_alternative = the new slot, boot_cycle = first_boot.
  const first = bootOnce(table, { boot_alternative: "B", boot_cycle: "first_boot" });
  assert.deepEqual(first, { slot: "B", env: { boot_alternative: "B", boot_cycle: "failsafe_check" } });
  const second = bootOnce(table, first.env); // no confirm happened
  assert.deepEqual(second, { slot: "A", env: { boot_alternative: "A", boot_cycle: "stable" } });
});

test("boot cycle: an installed but uncommitted upgrade changes nothing; unknown cycles boot as stable", () => {
  // manageboot's upgrade-install leaves "install" (the other slot is written); only upgrade-commit switches.
  assert.deepEqual(bootOnce(table, { boot_alternative: "A", boot_cycle: "install" }), { slot: "A", env: { boot_alternative: "A", boot_cycle: "install" } });
  assert.deepEqual(bootOnce(table, { boot_alternative: "B", boot_cycle: "garbage" }).slot, "B");
});

test("grub.cfg's state machine is rendered from the same table: one branch per transition", () => {
  const script = renderGrubStateMachine(table, "($bootdisk,gpt2)/grubenv");
  for (const t of table.transitions) {
    const branch = new RegExp(`\\[ "\\$\\{boot_cycle\\}" = "${t.boot_cycle}" \\]; then\\n  # [^\\n]*\\n((?:  [^\\n]*\\n)*?)(?=elif|else)`);
    const body = branch.exec(script)?.[1] ?? "";
    assert.equal(/set boot_alternative=B; else set boot_alternative=A/.test(body), t.slot === "other", t.boot_cycle);
    if (t.then !== t.boot_cycle || t.slot === "other") {
      assert.match(body, new RegExp(`set boot_cycle=${t.then}\\n  save_env -f \\(\\$bootdisk,gpt2\\)/grubenv boot_alternative boot_cycle`));
    } else assert.doesNotMatch(body, /save_env/);
  }
});
