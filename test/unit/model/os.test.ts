import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadOs } from "../../../src/model/os.ts";
import { parseTarget } from "../../../src/model/target.ts";
import { ValidationError, UserError } from "../../../src/errors.ts";
import { IC_OS_DIR } from "../../../src/paths.ts";
import { scratch } from "../../helpers/tmp.ts";

test("the shipped GuestOS definition loads", () => {
  const os = loadOs(join(IC_OS_DIR, "guestos/os.yaml"));
  assert.deepEqual(Object.keys(os.variants), ["prod", "dev", "dev-sev", "dev-malicious"]);
  assert.equal(os.variants.dev!.base, "dev");
  assert.equal(parseTarget("guestos/prod").os.name, "guestos");
});

function problems(t: Parameters<typeof scratch>[0], edit: (yaml: string) => string): string[] {
  const dir = join(scratch(t), "guestos");
  cpSync(join(IC_OS_DIR, "guestos"), dir, { recursive: true });
  const file = join(dir, "os.yaml");
  writeFileSync(file, edit(readFileSync(file, "utf8")));
  try {
    loadOs(file);
  } catch (e) {
    assert.ok(e instanceof ValidationError, String(e));
    assert.ok(e.message.startsWith(`${file}: `));
    return e.problems;
  }
  assert.fail("expected a ValidationError");
}

test("os.yaml: each problem named by its path, all in one pass", (t) => {
  const p = problems(t, (y) =>
    y.replace("variant: minbase", "variant: tiny").replace("dev: { base: dev, target: image-dev,", "dev: { base: nightly, target: image-dev,") + "colour: blue\n",
  );
  assert.deepEqual(p.sort(), [
    "bootstrap.variant: Invalid option: expected one of \"minbase\"|\"essential\"|\"apt\"|\"required\"|\"important\"|\"standard\"",
    "colour: unknown key (valid keys: name, description, kind, layout, sourceDateEpoch, bootstrap, bases, variants, components, enableUnits, maskUnits, fileModes, kernelArgs, rootVerity)",
  ].sort());
});

test("os.yaml: cross-references are checked (base flavour, package files, components)", (t) => {
  const p = problems(t, (y) => y.replace("dev: { base: dev, target: image-dev,", "dev: { base: nightly, target: image-dev,").replace("prod: [packages.common]", "prod: [packages.common, packages.missing]").replace("  - ready-report\n", "  - ready-report\n  - nope\n"));
  assert.deepEqual(p, [
    'variants.dev.base: unknown base flavour "nightly" (defined: prod, dev)',
    "bases.prod[1]: no such file context/packages.missing",
    "components[15]: no component folder ic-os/components/nope",
  ]);
});

test("targets: bad form, unknown OS and unknown variant are user errors with hints", () => {
  assert.throws(() => parseTarget("guestos"), (e: unknown) => e instanceof UserError && /expected <os>\/<variant>/.test(e.message));
  assert.throws(() => parseTarget("nope/dev"), (e: unknown) => e instanceof UserError && /unknown OS "nope"/.test(e.message));
  assert.throws(() => parseTarget("guestos/nightly"), (e: unknown) => e instanceof UserError && e.hint === "guestos has: prod, dev, dev-sev, dev-malicious");
});
