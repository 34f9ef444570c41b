import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../../src/paths.ts";
import { icos } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";

const COMMANDS = [["doctor"], ["targets"], ["inspect"], ["layout", "check"], ["layout", "show"], ["base", "update"], ["base", "export"], ["base", "import"], ["build"], ["verify"], ["run"], ["config", "guestos"], ["config", "schema"], ["upgrade"]];

test("icos --help lists the commands", () => {
  const r = icos(["--help"]);
  assert.equal(r.code, 0);
  for (const name of ["doctor", "targets", "inspect", "layout", "base", "build", "verify", "run", "config", "upgrade"]) assert.match(r.stdout, new RegExp(`^  ${name}\\b`, "m"));
});

for (const cmd of COMMANDS) {
  test(`icos ${cmd.join(" ")} --help shows an example`, () => {
    const r = icos([...cmd, "--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Example:\n  \$ icos /);
  });
}

test("an unknown command exits 2 with a hint, no stack trace", () => {
  const r = icos(["frobnicate"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
});

test("a missing input file is a user error (exit 2) naming the file", () => {
  const r = icos(["inspect", "/nonexistent/disk.img"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /error: \/nonexistent\/disk\.img: no such file/);
});

test("help marks required options (required), and only those", () => {
  // Each option's entry runs from its "  --flag" line to the next one (help wraps at 80 columns).
  const marked = (args: string[]) =>
    icos([...args, "--help"]).stdout.split(/\n(?=  -)/).filter((entry) => /\(required\)/.test(entry.split("\n\n")[0]!)).map((entry) => entry.trim().split(/\s+/)[0]);
  assert.deepEqual(marked(["config", "guestos"]), ["--config", "--out"]);
  assert.deepEqual(marked(["upgrade"]), ["--to", "--ssh"]);
  assert.deepEqual(marked(["base", "export"]), ["--out"]);
  assert.deepEqual(marked(["build"]), []);
});

test("build and verify take --image-version; --version there says what replaced it (exit 2), icos --version is icos's", () => {
  assert.match(icos(["build", "--help"]).stdout, /--image-version <version>\s+the image version/);
  assert.doesNotMatch(icos(["build", "--help"]).stdout, /--version/);
  for (const args of [["build", "--version"], ["build", "guestos/dev", "--version", "1.2.0"], ["verify", "guestos/dev", "--version"]]) {
    const r = icos(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, /^error: --version is not an option of build or verify: the image's version is --image-version <v>\n  hint: /);
  }
  const bad = icos(["build", "guestos/dev", "--image-version", "1 2"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: --image-version: expected up to 64 letters/);
  const own = icos(["--version"]);
  assert.equal(own.code, 0);
  assert.match(own.stdout, /^\d+\.\d+\.\d+\n$/);
});

test("bin/icos.js without dist/ says to run `npm run build` (exit 2), no stack", (t) => {
  const pkg = scratch(t);
  mkdirSync(join(pkg, "bin"));
  copyFileSync(join(ROOT, "bin", "icos.js"), join(pkg, "bin", "icos.js"));
  const r = spawnSync(process.execPath, [join(pkg, "bin", "icos.js"), "doctor"], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^error: icos is not compiled: .*\/dist\/cli\/main\.js does not exist\n  hint: .*run `npm run build`.*node --import tsx src\/cli\/main\.ts/);
  assert.doesNotMatch(r.stderr, /ERR_MODULE_NOT_FOUND|\n\s+at /);
});
