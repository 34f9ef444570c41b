// The example node configs in examples/ (README, quickstart) are valid and make a CONFIG media.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../../src/paths.ts";
import { icos } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";

test("every example config makes a CONFIG media (with an admin key where it asks for keys)", (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, "keys"));
  spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "id")]);
  copyFileSync(join(dir, "id.pub"), join(dir, "keys/admin"));
  const examples = readdirSync(join(ROOT, "examples")).filter((f) => f.endsWith(".json"));
  assert.ok(examples.length >= 2);
  for (const f of examples) {
    const withKeys = f.includes("ssh") ? ["--ssh-keys", join(dir, "keys")] : [];
    const r = icos(["config", "guestos", "--config", join(ROOT, "examples", f), ...withKeys, "--out", join(dir, `${f}.img`)]);
    assert.equal(r.code, 0, `${f}: ${r.stderr}`);
  }
});
