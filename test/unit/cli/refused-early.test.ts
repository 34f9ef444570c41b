// Commands refuse a bad target or OS definition before any work (no podman, no store, no QEMU):
// the checks that used to sit in the slow tier, which build and boot nothing.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../../src/paths.ts";
import { icos } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";

test("an unknown variant is refused before any work", () => {
  const r = icos(["build", "guestos/nightly"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown variant "nightly" of guestos\n  hint: guestos has: prod, dev, dev-sev, dev-malicious/);
});

/** `icos build guestos/dev` against a copy of ic-os/ whose guestos os.yaml `edit` changed. */
function buildEdited(t: TestContext, edit: (osYaml: string) => string) {
  const dir = join(scratch(t, "icos-defs-"), "ic-os");
  cpSync(join(ROOT, "ic-os"), dir, { recursive: true });
  const osYaml = join(dir, "guestos/os.yaml");
  writeFileSync(osYaml, edit(readFileSync(osYaml, "utf8")));
  return icos(["build", "guestos/dev"], { env: { ICOS_IC_OS_DIR: dir, ICOS_OUT_DIR: join(dir, "..", "out"), ICOS_CACHE_DIR: join(dir, "..", "cache") } });
}

test("a missing component is named with its field", (t) => {
  const r = buildEdited(t, (y) => y.replace("  - ready-report\n", "  - ready-report\n  - no-such-component\n"));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /os\.yaml: 1 problem:\n  components\[\d+\]: no component folder ic-os\/components\/no-such-component/);
});

test("an OS whose kind has no recipe yet says so and builds nothing", (t) => {
  const r = buildEdited(t, (y) => y.replace("kind: ab-gpt-disk", "kind: ab-lvm-disk"));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /guestos\/dev: cannot build an image of kind ab-lvm-disk yet: the LVM volume stage is not written yet/);
});

test("icos run: an unknown variant, and a target not built yet, are user errors naming the fix", (t) => {
  const out = scratch(t, "icos-out-");
  const unknown = icos(["run", "guestos/no-such-variant"], { env: { ICOS_OUT_DIR: out } });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /error: unknown variant "no-such-variant" of guestos\n  hint: guestos has: prod, dev, dev-sev, dev-malicious/);
  const unbuilt = icos(["run", "guestos/dev"], { env: { ICOS_OUT_DIR: out } });
  assert.equal(unbuilt.code, 2);
  assert.match(unbuilt.stderr, new RegExp(`error: guestos/dev: no disk.img in ${out}/guestos/dev\n  hint: run \`icos build guestos/dev\` first`));
});
