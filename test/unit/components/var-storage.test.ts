// The var-storage component off the device: its generator's units for each slot (from the device
// contract) and the disk key's file (made once, 0600, then reused).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadBootCycleTable } from "../../../src/model/boot-cycle.ts";
import { deviceContract, renderContractEnv } from "../../../src/model/device-contract.ts";
import { loadLayout, resolveLayout } from "../../../src/model/layout.ts";
import { IC_OS_DIR } from "../../../src/paths.ts";
import { scratch } from "../../helpers/tmp.ts";

const COMPONENT = join(IC_OS_DIR, "components/var-storage");
const LIB = join(IC_OS_DIR, "components/icos-lib/opt/ic/lib");
const guestContract = () => renderContractEnv(deviceContract(resolveLayout(loadLayout(join(IC_OS_DIR, "guestos/layout.yaml")), { scale: 1 }), loadBootCycleTable()));

test("the var generator mounts /dev/mapper/var on the contract's var mount point, after setup-var, which waits for the slot's var device", (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, "contract.env"), guestContract());
  for (const slot of ["A", "B"]) {
    const out = join(dir, `out-${slot}`);
    mkdirSync(out);
    writeFileSync(join(dir, "cmdline"), `root=PARTUUID=x dfinity.system=${slot} ro\n`);
    const r = spawnSync(join(COMPONENT, "usr/lib/systemd/system-generators/icos-var-generator"), [out], {
      env: { ...process.env, ICOS_CONTRACT: join(dir, "contract.env"), ICOS_CMDLINE: join(dir, "cmdline"), ICOS_LIB: LIB },
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    const mount = readFileSync(join(out, "var.mount"), "utf8");
    assert.match(mount, /What=\/dev\/mapper\/var\nWhere=\/var\n/); // VAR_DM_NAME
    assert.match(mount, /Requires=setup-var\.service\nAfter=setup-var\.service/);
    const dropIn = readFileSync(join(out, "setup-var.service.d/device.conf"), "utf8");
    assert.match(dropIn, new RegExp(`Requires=dev-disk-by\\\\x2dpartlabel-${slot}_var\\.device`));
    assert.match(dropIn, /Before=var\.mount/);
    assert.deepEqual(readdirSync(join(out, "local-fs.target.wants")), ["var.mount"]);
  }
});

test("a contract without a var mount point gets no units", (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, "contract.env"), guestContract().replace(/^ICOS_VAR_MOUNT=.*\n/m, ""));
  writeFileSync(join(dir, "cmdline"), "dfinity.system=A\n");
  const r = spawnSync(join(COMPONENT, "usr/lib/systemd/system-generators/icos-var-generator"), [dir], {
    env: { ...process.env, ICOS_CONTRACT: join(dir, "contract.env"), ICOS_CMDLINE: join(dir, "cmdline"), ICOS_LIB: LIB },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(dir).sort(), ["cmdline", "contract.env"]);
});

test("the disk key is 64 random bytes, 0600, made once and then reused", (t) => {
  const dir = scratch(t);
  const key = join(dir, "store.keyfile");
  const run = () => spawnSync(join(COMPONENT, "opt/ic/bin/disk-key.sh"), [key], { env: { ...process.env, ICOS_LIB: LIB, ICOS_CONSOLE: "/dev/null" }, encoding: "utf8" });
  const first = run();
  assert.equal(first.status, 0, first.stderr);
  assert.equal(first.stdout, `${key}\n`);
  assert.match(first.stderr, /made a new disk key/);
  const bytes = readFileSync(key);
  assert.equal(bytes.length, 64);
  assert.equal(statSync(key).mode & 0o777, 0o600);
  const second = run();
  assert.equal(second.status, 0, second.stderr);
  assert.equal(second.stderr, "");
  assert.deepEqual(readFileSync(key), bytes, "the key is never remade");
});
