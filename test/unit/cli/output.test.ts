// What icos prints beside a command's own output: errors as JSON with --json (the same exit code),
// plain text without escape codes unless a terminal allows colour, --verbose tool output, and the
// closing summary of a build.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildSummary } from "../../../src/cli/commands/build.ts";
import { colorAllowed, errorLabel, stripEscapes } from "../../../src/cli/output.ts";
import { icos } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";

const ESC = /\x1b/;

describe("--json: errors are one JSON object on stdout, the exit code unchanged", () => {
  test("a user's mistake: { error: { name, message, hint, exitCode } }, and the text on stderr as before", () => {
    const r = icos(["inspect", "/nonexistent/disk.img", "--json"]);
    assert.equal(r.code, 2);
    const { error } = JSON.parse(r.stdout) as { error: Record<string, unknown> };
    assert.deepEqual(Object.keys(error).sort(), ["exitCode", "hint", "message", "name"]);
    assert.equal(error.name, "UserError");
    assert.equal(error.message, "/nonexistent/disk.img: no such file");
    assert.equal(error.exitCode, 2);
    assert.match(String(error.hint), /give a target such as guestos\/dev/);
    assert.match(r.stderr, /^error: \/nonexistent\/disk\.img: no such file\n  hint: /);
  });

  test("every problem of a file: name ValidationError, file and problems", (t) => {
    const file = join(scratch(t), "layout.yaml");
    writeFileSync(file, "name: x\n");
    const r = icos(["layout", "show", file, "--json"]);
    assert.equal(r.code, 2, r.stderr);
    const { error } = JSON.parse(r.stdout) as { error: { name: string; file: string; problems: string[]; exitCode: number } };
    assert.deepEqual({ name: error.name, file: error.file, problems: error.problems, exitCode: error.exitCode }, { name: "ValidationError", file, problems: ["partitions: required"], exitCode: 2 });
  });

  test("a usage error found by the parser (before any command runs)", () => {
    const r = icos(["build", "--json"]);
    assert.equal(r.code, 2);
    assert.deepEqual(JSON.parse(r.stdout), {
      error: { name: "UsageError", message: "missing required argument 'target'", hint: "run with --help for usage", exitCode: 2, code: "commander.missingArgument" },
    });
    assert.match(r.stderr, /^error: missing required argument 'target'/);
  });

  test("without --json, stdout stays empty on an error", () => {
    const r = icos(["inspect", "/nonexistent/disk.img"]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
  });
});

describe("escape codes", () => {
  test("none when stdout and stderr are not terminals: help, an error, doctor", () => {
    for (const args of [["--help"], ["build", "--help"], ["inspect", "/nonexistent"], ["doctor"], ["layout", "check", "/nonexistent.yaml"]]) {
      const r = icos(args);
      assert.doesNotMatch(r.stdout + r.stderr, ESC, args.join(" "));
    }
  });

  test("colour only for a terminal, never with NO_COLOR or TERM=dumb", () => {
    assert.equal(colorAllowed({ isTTY: true }, {}), true);
    assert.equal(colorAllowed({ isTTY: false }, {}), false);
    assert.equal(colorAllowed({}, {}), false);
    assert.equal(colorAllowed({ isTTY: true }, { NO_COLOR: "1" }), false);
    assert.equal(colorAllowed({ isTTY: true }, { NO_COLOR: "" }), true, "NO_COLOR counts only when non-empty");
    assert.equal(colorAllowed({ isTTY: true }, { TERM: "dumb" }), false);
    assert.equal(errorLabel(false), "error:");
    assert.equal(stripEscapes(errorLabel(true)), "error:");
  });

  test("stripEscapes removes CSI, OSC and two-byte sequences", () => {
    assert.equal(stripEscapes("\x1b[1;31mred\x1b[0m \x1b]0;title\x07x\x1b=y"), "red xy");
  });
});

describe("--verbose", () => {
  test("the tools' output goes to stderr, tagged; without it nothing of theirs is shown", () => {
    const quiet = icos(["doctor"]);
    assert.doesNotMatch(quiet.stderr, /mke2fs/);
    const loud = icos(["--verbose", "doctor"]);
    assert.equal(loud.code, quiet.code);
    assert.equal(loud.stdout, quiet.stdout, "stdout is the same");
    assert.match(loud.stderr, /^\$ mke2fs -V$/m);
    assert.match(loud.stderr, /^mke2fs: mke2fs \d+\.\d+/m);
  });
});

test("build's closing summary: time, stages built and cached, each file with its size (sparse: allocated too)", (t) => {
  const out = scratch(t);
  writeFileSync(join(out, "manifest.json"), "{}\n");
  writeFileSync(join(out, "update-img.tar.zst"), Buffer.alloc(3 << 20, 1));
  writeFileSync(join(out, "disk.img"), "");
  truncateSync(join(out, "disk.img"), 2 * 2 ** 30); // a hole: nothing allocated
  const stage = (cache: "hit" | "miss") => ({ stage: "s", subject: "x", digest: "0".repeat(64), cache, seconds: 1 });
  const text = buildSummary("guestos/dev", { outDir: out, stages: [stage("hit"), stage("miss"), stage("hit")] }, 62.34);
  assert.equal(
    text,
    [
      `built guestos/dev in 62.3 s (3 stages: 1 built, 2 cached): ${out}`,
      "  disk.img            2.0 GiB (0 bytes allocated)",
      "  manifest.json       3 bytes",
      "  update-img.tar.zst  3.0 MiB",
    ].join("\n"),
  );
});
