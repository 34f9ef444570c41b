// The target resolver (src/model/target.ts): a table of arguments and the result or the exact
// error text, against a copy of ic-os/ with extra OSes: fooos (a layout only), lvmos (an os.yaml
// of another kind), misnamed (an os.yaml whose name is not its folder's).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { recipeFor } from "../../../src/build/recipes.ts";
import { UserError } from "../../../src/errors.ts";
import { targetStatuses } from "../../../src/build/target-status.ts";
import { discoverOses, layoutFileOf, outDirOf, parseTarget, resolveArtifact, type ArtifactRequest } from "../../../src/model/target.ts";
import { fakeDefinitions, KIND_WITHOUT_RECIPE } from "./fake-definitions.ts";

type Expect = { id: string } | { error: string; hint?: string | RegExp };

function check(run: () => { id: string }, want: Expect): void {
  if ("id" in want) return assert.equal(run().id, want.id);
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof UserError, String(e));
    assert.equal(e.message, want.error);
    if (typeof want.hint === "string") assert.equal(e.hint, want.hint);
    else if (want.hint) assert.match(e.hint ?? "", want.hint);
    return true;
  });
}

describe("the target resolver", () => {
  let defs: { icOsDir: string; out: string };
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "icos-target-test-"));
    defs = fakeDefinitions(tmp);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("discovers OS folders with an os.yaml or a layout.yaml, by name", () => {
    const oses = discoverOses({ icOsDir: defs.icOsDir });
    assert.deepEqual(oses.map((o) => o.name), ["boundary-guestos", "fooos", "guestos", "hostos", "lvmos", "misnamed", "setupos"]);
    assert.equal(oses.find((o) => o.name === "fooos")!.osFile, undefined);
    assert.equal(oses.find((o) => o.name === "guestos")!.osFile, join(defs.icOsDir, "guestos/os.yaml"));
  });

  const KNOWN = "known: boundary-guestos, fooos, guestos, hostos, lvmos, misnamed, setupos (`icos targets` lists them)";
  const NO_OS_YAML = "an OS is built from its os.yaml (docs/os-definition.md); `icos targets` lists what can be built now";
  const TARGETS: [string, Expect][] = [
    ["guestos/dev", { id: "guestos/dev" }],
    ["guestos/dev-sev", { id: "guestos/dev-sev" }],
    ["guestos", { error: 'bad target "guestos": expected <os>/<variant>, e.g. guestos/dev', hint: "guestos has: guestos/prod, guestos/dev, guestos/dev-sev, guestos/dev-malicious" }],
    ["GuestOS/dev", { error: 'bad target "GuestOS/dev": expected <os>/<variant>, e.g. guestos/dev', hint: "`icos targets` lists them" }],
    ["guestos/dev/x", { error: 'bad target "guestos/dev/x": expected <os>/<variant>, e.g. guestos/dev' }],
    ["nope/dev", { error: 'unknown OS "nope" in target nope/dev', hint: KNOWN }],
    ["fooos/dev", { error: "fooos has a layout but no os.yaml yet: it cannot be built", hint: NO_OS_YAML }],
    ["hostos/dev", { error: "hostos has a layout but no os.yaml yet: it cannot be built", hint: NO_OS_YAML }],
    ["guestos/nightly", { error: 'unknown variant "nightly" of guestos', hint: "guestos has: prod, dev, dev-sev, dev-malicious" }],
    ["misnamed/dev", { error: 'ICOS/misnamed/os.yaml: name: "guestos" differs from its folder "misnamed"', hint: "an OS is named after its folder under ic-os/" }],
  ];
  for (const [arg, want] of TARGETS) {
    it(`parseTarget(${JSON.stringify(arg)})`, () => {
      if ("error" in want) want.error = want.error.replace("ICOS", defs.icOsDir);
      check(() => parseTarget(arg, { icOsDir: defs.icOsDir }), want);
    });
  }

  it("outDirOf: --output-dir, else $ICOS_OUT_DIR, else <repo>/out", () => {
    const t = { os: { name: "guestos" }, variant: "dev" };
    assert.equal(outDirOf(t, { outputDir: "/x/out", env: { ICOS_OUT_DIR: "/y" } }), "/x/out/guestos/dev");
    assert.equal(outDirOf(t, { env: { ICOS_OUT_DIR: "/y" } }), "/y/guestos/dev");
    assert.match(outDirOf(t, { env: {} }), /\/out\/guestos\/dev$/);
  });

  // Arguments of run / inspect (disk.img) and upgrade --to (update-img.tar.zst).
  const ARTIFACTS: [string, Partial<ArtifactRequest>, { path: string; from: string } | { error: string; hint?: string | RegExp }][] = [
    ["guestos/dev", {}, { path: "OUT/guestos/dev/disk.img", from: "target" }],
    ["guestos/dev", { file: "update-img.tar.zst" }, { path: "OUT/guestos/dev/update-img.tar.zst", from: "target" }],
    ["guestos/prod", {}, { error: "guestos/prod: no disk.img in OUT/guestos/prod", hint: "run `icos build guestos/prod --output-dir OUT` first" }],
    ["hostos/dev", {}, { error: "hostos has a layout but no os.yaml yet: it cannot be built", hint: NO_OS_YAML }],
    ["guestos/nightly", {}, { error: 'unknown variant "nightly" of guestos' }],
    ["foo/bar", {}, { error: 'foo/bar: no such file, and "foo" is not an OS', hint: /^OSes: boundary-guestos, fooos, guestos, / }],
    ["OUT/guestos/dev", {}, { path: "OUT/guestos/dev/disk.img", from: "output-dir" }],
    ["TMP/empty", {}, { error: "TMP/empty: is a directory without disk.img", hint: /an output directory holds manifest.json and disk.img$/ }],
    ["TMP/empty", { label: "--to TMP/empty", file: "update-img.tar.zst" }, { error: "--to TMP/empty: is a directory without update-img.tar.zst" }],
    ["TMP/disk.img", {}, { path: "TMP/disk.img", from: "file" }],
    ["TMP/missing.img", {}, { error: "TMP/missing.img: no such file", hint: /^give a target such as guestos\/dev/ }],
  ];
  for (const [arg, req, want] of ARTIFACTS) {
    it(`resolveArtifact(${JSON.stringify(arg)}${req.file ? `, ${req.file}` : ""})`, () => {
      mkdirSync(join(tmp, "empty"), { recursive: true });
      writeFileSync(join(tmp, "disk.img"), "x");
      const sub = (s: string) => s.replaceAll("OUT", defs.out).replaceAll("TMP", tmp);
      const run = () => resolveArtifact(sub(arg), { file: "disk.img", what: "a disk image file", icOsDir: defs.icOsDir, outputDir: defs.out, ...req, label: req.label && sub(req.label) });
      if ("path" in want) {
        const r = run();
        assert.deepEqual({ path: r.path, from: r.from }, { path: sub(want.path), from: want.from });
        if (want.from === "target") assert.equal(r.target?.id, arg);
        return;
      }
      assert.throws(run, (e: unknown) => {
        assert.ok(e instanceof UserError, String(e));
        assert.equal(e.message, sub(want.error));
        if (typeof want.hint === "string") assert.equal(e.hint, sub(want.hint));
        else if (want.hint) assert.match(e.hint ?? "", want.hint);
        return true;
      });
    });
  }

  it("a target's file is looked up in $ICOS_OUT_DIR when no --output-dir is given", () => {
    const r = resolveArtifact("guestos/dev", { file: "disk.img", what: "a disk image file", icOsDir: defs.icOsDir, env: { ICOS_OUT_DIR: defs.out } });
    assert.equal(r.path, join(defs.out, "guestos/dev/disk.img"));
  });

  it("layoutFileOf: an OS's layout, or an existing file, else an error naming the OSes", () => {
    assert.equal(layoutFileOf("fooos", { icOsDir: defs.icOsDir }), join(defs.icOsDir, "fooos/layout.yaml"));
    assert.equal(layoutFileOf("guestos", { icOsDir: defs.icOsDir }), join(defs.icOsDir, "guestos/layout.yaml"));
    const file = join(defs.icOsDir, "hostos/layout.yaml");
    assert.equal(layoutFileOf(file, { icOsDir: defs.icOsDir }), file);
    check(() => ({ id: layoutFileOf("nope", { icOsDir: defs.icOsDir }) }), { error: "unknown OS or missing layout file: nope", hint: /^use an OS name \(boundary-guestos, fooos, / });
  });

  it("targetStatuses: why each target can or cannot be built", async () => {
    const statuses = await targetStatuses({
      icOsDir: defs.icOsDir,
      outputDir: defs.out,
      checkBase: async (os, flavour) => {
        if (flavour === "dev") throw new UserError(`${os.name}: pinned dev base sha256:abc is not in local podman storage`, "run `icos base update`");
      },
    });
    const by = new Map(statuses.map((s) => [s.name, s]));
    assert.deepEqual([...by.keys()], ["boundary-guestos", "fooos", "guestos", "hostos", "lvmos", "misnamed", "setupos"]);
    const foo = by.get("fooos")!;
    assert.deepEqual([foo.kind, foo.variants, foo.targets, foo.reason], [null, [], [], "fooos has a layout but no os.yaml yet: it cannot be built"]);
    assert.match(by.get("misnamed")!.reason!, /name: "guestos" differs from its folder "misnamed"$/);
    const guest = by.get("guestos")!;
    assert.equal(guest.kind, "ab-gpt-disk");
    assert.deepEqual(
      guest.targets.map((t) => [t.target, t.base, t.buildable, t.reason, t.built]),
      [
        ["guestos/prod", "prod", true, null, false],
        ["guestos/dev", "dev", false, "guestos: pinned dev base sha256:abc is not in local podman storage", true],
        ["guestos/dev-sev", "dev", false, "guestos: pinned dev base sha256:abc is not in local podman storage", false],
        ["guestos/dev-malicious", "dev", false, "guestos: pinned dev base sha256:abc is not in local podman storage", false],
      ],
    );
    assert.equal(guest.targets[1]!.outDir, join(defs.out, "guestos/dev"));
    if (KIND_WITHOUT_RECIPE) {
      const lvm = by.get("lvmos")!;
      assert.equal(lvm.kind, KIND_WITHOUT_RECIPE);
      const missing = (recipeFor(KIND_WITHOUT_RECIPE) as { missing: string }).missing;
      for (const t of lvm.targets) assert.equal(t.reason, `kind ${KIND_WITHOUT_RECIPE} cannot be built yet: ${missing}`);
    }
  });
});
