import { test } from "node:test";
import assert from "node:assert/strict";
import { icos } from "../../helpers/cli.ts";

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
