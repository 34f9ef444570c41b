// icos layout check with several files: each is checked and reported, in order, and the command
// fails (exit 2) if any did; one file's error is reported as before, on its own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../../src/paths.ts";
import { icos } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";

test("icos layout check a b c: every file is checked; each bad one is listed; exit 2", (t) => {
  const dir = scratch(t);
  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, "name: x\n");
  const missing = join(dir, "missing.yaml");
  const r = icos(["layout", "check", missing, bad, "guestos"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stdout, new RegExp(`^ok  ${join(ROOT, "ic-os/guestos/layout.yaml")}: \\d+ partitions`), "the good file after two bad ones is still checked");
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error: "));
  assert.deepEqual(errors, [
    `error: unknown OS or missing layout file: ${missing}`,
    `error: ${bad}: 1 problem:`,
    "error: 2 of 3 layout files failed the check (each is listed above)",
  ]);
  assert.match(r.stderr, /^  partitions: required$/m);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
});

test("icos layout check with every file good: exit 0; with one bad file: its error alone", (t) => {
  const ok = icos(["layout", "check", "guestos", "hostos"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.split("\n").filter((l) => l.startsWith("ok  ")).length, 2);
  const bad = join(scratch(t), "bad.yaml");
  writeFileSync(bad, "name: x\n");
  const one = icos(["layout", "check", bad]);
  assert.equal(one.code, 2);
  assert.equal(one.stderr, `error: ${bad}: 1 problem:\n  partitions: required\n`);
});
