// The boot result lines, with a stand-in systemctl: what icos run waits for, and IC-OS's
// "<OS> BOOT SUCCESS|FAILURE" line that HostOS watches for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { IC_OS_DIR } from "../../../src/paths.ts";
import { scratch } from "../../helpers/tmp.ts";

const C = join(IC_OS_DIR, "components");
const SCRIPT = join(C, "ready-report/opt/ic/bin/icos-ready.sh");

function report(dir: string, state: string, failedUnits: string[], os = "guestos"): string {
  const bin = join(dir, "bin");
  spawnSync("mkdir", ["-p", bin]);
  // As systemctl prints them: one line each, the unit first; the last line without its newline too.
  const units = failedUnits.map((u) => `${u} loaded failed failed Some unit`).join("\n");
  writeFileSync(join(bin, "systemctl"), `#!/bin/sh\ncase "$1" in\n  is-system-running) echo ${state} ;;\n  list-units) printf '%s' '${units}' ;;\nesac\n`);
  chmodSync(join(bin, "systemctl"), 0o755);
  writeFileSync(join(dir, "contract.env"), `ICOS_OS=${os}\n`);
  const console = join(dir, "console");
  writeFileSync(console, "");
  const r = spawnSync(SCRIPT, [], {
    env: { PATH: `${bin}:${process.env.PATH}`, ICOS_LIB: join(C, "icos-lib/opt/ic/lib"), ICOS_CONTRACT: join(dir, "contract.env"), ICOS_CONSOLE: console },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(console, "utf8");
}

test("ready-report: a clean boot is GUESTOS BOOT SUCCESS, then icos-ready running/0 (last, so a watcher that stops at it has both)", (t) => {
  assert.equal(report(scratch(t), "running", []), "GUESTOS BOOT SUCCESS\nicos-ready: state=running failed=0\n");
});

test("ready-report: failed units are counted and named on the BOOT FAILURE line; the OS name comes from the contract", (t) => {
  assert.equal(
    report(scratch(t), "degraded", ["bootstrap-ic-node.service", "ipv6-monitor.service"], "hostos"),
    "HOSTOS BOOT FAILURE: bootstrap-ic-node.service ipv6-monitor.service\nicos-ready: state=degraded failed=2\n",
  );
});

test("ready-report: a state other than running is a failure even with no failed unit", (t) => {
  assert.equal(report(scratch(t), "maintenance", []), "GUESTOS BOOT FAILURE: state maintenance\nicos-ready: state=maintenance failed=0\n");
});
