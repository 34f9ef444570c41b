// The verity-root component's initramfs script reads the kernel arguments icos build writes
// (VERITY_KERNEL_ARGS, the one home of their names), and the build puts them on every slot.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bootArgs } from "../../../src/build/stages/rootfs.ts";
import { verityIdentity } from "../../../src/image/verity.ts";
import { loadBootCycleTable } from "../../../src/model/boot-cycle.ts";
import { deviceContract, VERITY_KERNEL_ARGS } from "../../../src/model/device-contract.ts";
import { loadLayout, resolveLayout } from "../../../src/model/layout.ts";
import { IC_OS_DIR } from "../../../src/paths.ts";

const script = readFileSync(join(IC_OS_DIR, "components/verity-root/etc/initramfs-tools/scripts/local-top/icos-verity"), "utf8");

test("the initramfs script reads the argument names the build writes", () => {
  for (const name of Object.values(VERITY_KERNEL_ARGS)) assert.match(script, new RegExp(`^\\s+${name}=\\*\\) `, "m"), name);
});

test("every slot's kernel line carries the root hash and the tree's offset", () => {
  const contract = deviceContract(resolveLayout(loadLayout(join(IC_OS_DIR, "guestos/layout.yaml")), { scale: 1 }), loadBootCycleTable());
  const hash = "ab".repeat(32);
  const text = bootArgs(contract, "ro", { rootHash: hash, hashOffsetBytes: 4096 * 1000 });
  for (const slot of ["A", "B"]) assert.match(text, new RegExp(`^BOOT_ARGS_${slot}="root=PARTUUID=\\S+ dfinity\\.system=${slot} root_hash=${hash} root_hash_offset=4096000 ro"$`, "m"));
  assert.doesNotMatch(bootArgs(contract, "ro"), /root_hash/);
});

test("the verity salt and uuid are fixed per OS", () => {
  assert.deepEqual(verityIdentity("guestos"), verityIdentity("guestos"));
  assert.notEqual(verityIdentity("guestos").uuid, verityIdentity("hostos").uuid);
  assert.equal(verityIdentity("guestos").salt.length, 32);
});
