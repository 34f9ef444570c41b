// The A/B boot protocol from ic-os/bootloader/boot-cycle.json: which slot GRUB boots for a given
// grubenv, and what it writes back. The same table renders grub.cfg's state machine, so GRUB and
// this code cannot disagree (test/unit/model/boot-cycle.test.ts, and the slow tier boots it).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { IC_OS_DIR } from "../paths.ts";

export type Slot = "A" | "B";
export interface GrubEnv {
  boot_alternative: Slot;
  boot_cycle: string;
}
export interface Transition {
  boot_cycle: string;
  slot: "current" | "other";
  then: string;
  why: string;
}
export interface BootCycleTable {
  default: GrubEnv;
  transitions: Transition[];
}

export function loadBootCycleTable(file = join(IC_OS_DIR, "bootloader", "boot-cycle.json")): BootCycleTable {
  return JSON.parse(readFileSync(file, "utf8")) as BootCycleTable;
}

const other = (s: Slot): Slot => (s === "A" ? "B" : "A");

/** One boot: the slot GRUB boots and the grubenv it leaves (unknown cycles count as stable). */
export function bootOnce(table: BootCycleTable, env: Partial<GrubEnv>): { slot: Slot; env: GrubEnv } {
  const current: Slot = env.boot_alternative === "B" ? "B" : "A";
  const cycle = env.boot_cycle ?? table.default.boot_cycle;
  const t = table.transitions.find((x) => x.boot_cycle === cycle) ?? table.transitions.find((x) => x.boot_cycle === table.default.boot_cycle)!;
  const slot = t.slot === "other" ? other(current) : current;
  return { slot, env: { boot_alternative: slot, boot_cycle: t.then } };
}

/** grub.cfg's state machine: GRUB script with the same transitions, saving grubenv when it changes. */
export function renderGrubStateMachine(table: BootCycleTable, envFile: string): string {
  const save = `save_env -f ${envFile} boot_alternative boot_cycle`;
  const lines: string[] = [];
  table.transitions.forEach((t, i) => {
    lines.push(`${i === 0 ? "if" : "elif"} [ "\${boot_cycle}" = "${t.boot_cycle}" ]; then`, `  # ${t.why}`);
    if (t.slot === "other") lines.push(`  if [ "\${boot_alternative}" = "A" ]; then set boot_alternative=B; else set boot_alternative=A; fi`);
    if (t.then !== t.boot_cycle || t.slot === "other") lines.push(`  set boot_cycle=${t.then}`, `  ${save}`);
    else lines.push("  true");
  });
  lines.push("else", `  # unknown: boot the current slot as ${table.default.boot_cycle}`, `  set boot_cycle=${table.default.boot_cycle}`, "fi");
  return lines.join("\n");
}
