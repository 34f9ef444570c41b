// `icos targets` and the target arguments of build, run, inspect and upgrade, run as a user would,
// against a copy of ic-os/ with extra OSes (test/unit/model/fake-definitions.ts). Nothing here
// builds or boots: every command stops at its argument check.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { OsStatus } from "../../../src/build/target-status.ts";
import { icos, icosAsync, type CliResult } from "../../helpers/cli.ts";
import { fakeDefinitions, KIND_WITHOUT_RECIPE } from "../model/fake-definitions.ts";

function userError(r: CliResult, message: string): void {
  assert.equal(r.code, 2, `exit ${r.code}\n${r.stderr}`);
  assert.ok(r.stderr.startsWith(`error: ${message}\n  hint: `), r.stderr);
}

describe("icos targets and target arguments", { concurrency: 2 }, () => {
  let tmp: string;
  let defs: { icOsDir: string; out: string };
  let env: Record<string, string>;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "icos-targets-test-"));
    defs = fakeDefinitions(tmp);
    env = { ICOS_IC_OS_DIR: defs.icOsDir, ICOS_OUT_DIR: defs.out };
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("icos targets --json: every OS, its kind, variants and why a target cannot be built", async () => {
    const r = await icosAsync(["targets", "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    const oses = JSON.parse(r.stdout) as OsStatus[];
    assert.deepEqual(oses.map((o) => o.name), ["boundary-guestos", "fooos", "guestos", "hostos", "lvmos", "misnamed", "setupos"]);
    const by = new Map(oses.map((o) => [o.name, o]));
    for (const name of ["boundary-guestos", "fooos", "hostos", "setupos"]) {
      assert.equal(by.get(name)!.reason, `${name} has a layout but no os.yaml yet: it cannot be built`);
      assert.deepEqual(by.get(name)!.targets, []);
    }
    const guest = by.get("guestos")!;
    assert.equal(guest.kind, "ab-gpt-disk");
    assert.deepEqual(guest.variants, ["prod", "dev", "dev-sev", "dev-malicious"]);
    for (const t of guest.targets) {
      // Buildable or not depends on this machine's podman storage; either way it says why.
      assert.equal(t.reason === null, t.buildable, JSON.stringify(t));
      assert.equal(t.outDir, join(defs.out, t.target));
    }
    assert.equal(guest.targets.find((t) => t.target === "guestos/dev")!.built, true);
    if (KIND_WITHOUT_RECIPE) {
      for (const t of by.get("lvmos")!.targets) assert.match(t.reason!, new RegExp(`^kind ${KIND_WITHOUT_RECIPE} cannot be built yet: `));
    }
  });

  it("icos targets without podman (or mmdebstrap) on PATH: a reason per target, not a crash", async () => {
    const bin = join(tmp, "bin-without-podman");
    mkdirSync(bin);
    try {
      symlinkSync("/usr/bin/mmdebstrap", join(bin, "mmdebstrap"));
    } catch {
      // without it the reason names mmdebstrap instead
    }
    const r = await icosAsync(["targets", "--json"], { env: { ...env, PATH: bin } });
    assert.equal(r.code, 0, r.stderr);
    const guest = (JSON.parse(r.stdout) as OsStatus[]).find((o) => o.name === "guestos")!;
    for (const t of guest.targets) {
      assert.equal(t.buildable, false);
      assert.match(t.reason!, /^required tool '(podman|mmdebstrap)' is not installed \(Debian package: \w+\)$/);
    }
  });

  it("icos targets prints a table with the reasons and their hints", async () => {
    const r = await icosAsync(["targets"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^target +kind +base +buildable +built +why not\n/);
    assert.match(r.stdout, /^fooos +- +- +no +- +fooos has a layout but no os\.yaml yet: it cannot be built$/m);
    assert.match(r.stdout, /^guestos\/dev +ab-gpt-disk +dev +(yes|no) +yes\b/m);
    assert.match(r.stdout, /\nhints:\n  an OS is built from its os\.yaml \(docs\/os-definition\.md\)/);
  });

  it("icos build of an OS with only a layout: exit 2, says so", () => {
    userError(icos(["build", "fooos/dev"], { env }), "fooos has a layout but no os.yaml yet: it cannot be built");
  });

  it("icos build --output-dir FILE is refused before anything is built", () => {
    const file = join(tmp, "not-a-dir");
    writeFileSync(file, "");
    // --scale 0 is refused right after the output directory check: were that check missing, the
    // command still could not start a build.
    userError(icos(["build", "guestos/dev", "--output-dir", file, "--scale", "0"], { env }), `--output-dir ${file}: is a regular file, not a directory`);
  });

  it("icos inspect guestos/dev looks in --output-dir, else $ICOS_OUT_DIR", async () => {
    const empty = join(tmp, "empty-out");
    userError(await icosAsync(["inspect", "guestos/dev", "--output-dir", empty], { env }), `guestos/dev: no disk.img in ${empty}/guestos/dev`);
    userError(await icosAsync(["inspect", "guestos/prod"], { env }), `guestos/prod: no disk.img in ${defs.out}/guestos/prod`);
  });

  it("icos run guestos/prod looks in $ICOS_OUT_DIR (not the repository's out/)", async () => {
    const r = await icosAsync(["run", "guestos/prod"], { env });
    userError(r, `guestos/prod: no disk.img in ${defs.out}/guestos/prod`);
    assert.match(r.stderr, /hint: run `icos build guestos\/prod` first/);
  });

  it("icos upgrade --to a target finds its update image in the output directory", async () => {
    const empty = join(tmp, "empty-out");
    userError(await icosAsync(["upgrade", "--to", "guestos/dev", "--output-dir", empty, "--ssh", "127.0.0.1:1"], { env }), `guestos/dev: no update-img.tar.zst in ${empty}/guestos/dev`);
    userError(await icosAsync(["upgrade", "--to", "hostos/dev", "--ssh", "127.0.0.1:1"], { env }), "hostos has a layout but no os.yaml yet: it cannot be built");
  });

});
