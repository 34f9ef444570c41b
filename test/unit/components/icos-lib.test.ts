// Helpers of ic-os/components/icos-lib, run on the host with /bin/sh: icos_unit_name against the
// tool it replaces in the boot-mount generator (systemd-escape --path --suffix=...).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { IC_OS_DIR } from "../../../src/paths.ts";

const LIB = join(IC_OS_DIR, "components/icos-lib/opt/ic/lib/icos-lib.sh");
const unitName = (path: string, suffix: string) => execFileSync("sh", ["-c", `. "${LIB}"; icos_unit_name "$1" "$2"`, "_", path, suffix], { encoding: "utf8" }).trim();
const escape = (path: string, suffix: string) => execFileSync("systemd-escape", ["--path", `--suffix=${suffix}`, path], { encoding: "utf8" }).trim();

test("icos_unit_name names a path's unit as systemd-escape does", () => {
  const paths = [
    "/boot", "/boot/config", "/dev/disk/by-partlabel/config", "/dev/disk/by-partlabel/A_boot", "/dev/vda4",
    "/dev/hostlvm/A_boot", "/", "//boot//", "/a-b-c/d:e_f.g", "/x/.hidden", "/.dot", "/with space", "/a+b", "/ü",
  ];
  for (const p of paths) {
    for (const suffix of ["mount", "device"]) assert.equal(unitName(p, suffix), escape(p, suffix), `${p} (${suffix})`);
  }
});
