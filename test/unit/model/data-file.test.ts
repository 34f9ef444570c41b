// Data files from outside (layouts, OS definitions, node configs) are bounded before the parsers
// and zod recurse into them: at most MAX_DATA_FILE_BYTES, at most MAX_DATA_NESTING deep.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError, ValidationError } from "../../../src/errors.ts";
import { MAX_DATA_FILE_BYTES, MAX_DATA_NESTING, nestedDeeperThan, parseYaml } from "../../../src/model/data-file.ts";
import { loadLayout } from "../../../src/model/layout.ts";
import { icosAsync } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";

const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? { k: v } : [v];
  return v;
};

describe("nestedDeeperThan", () => {
  it("counts arrays and objects inside each other; scalars are 0", () => {
    assert.equal(nestedDeeperThan(1, 0), false);
    assert.equal(nestedDeeperThan([], 0), true);
    assert.equal(nestedDeeperThan(nested(64), 64), false);
    assert.equal(nestedDeeperThan(nested(65), 64), true);
    assert.equal(nestedDeeperThan({ a: 1, b: [1, { c: [] }] }, 4), false);
    assert.equal(nestedDeeperThan({ a: 1, b: [1, { c: [] }] }, 3), true);
  });

  it("is iterative: a million levels is no stack overflow", () => {
    assert.equal(nestedDeeperThan(nested(1_000_000), MAX_DATA_NESTING), true);
  });

  it("shared subtrees (YAML aliases) are counted by their real depth, in linear time", () => {
    // 60 levels, each two references to the one below: 2^60 paths, 60 objects.
    let shared: unknown = [];
    for (let i = 0; i < 60; i++) shared = [shared, shared];
    assert.equal(nestedDeeperThan(shared, 61), false);
    assert.equal(nestedDeeperThan({ a: shared, b: [[[[shared]]]] }, 64), true);
  });

  it("a cycle is too deep", () => {
    const loop: unknown[] = [];
    loop.push(loop);
    assert.equal(nestedDeeperThan(loop, MAX_DATA_NESTING), true);
  });
});

describe("parseYaml refuses deep nesting with a clear problem", () => {
  const problems = (text: string): string[] => {
    try {
      parseYaml(text, "f.yaml");
    } catch (e) {
      assert.ok(e instanceof ValidationError, String(e));
      return e.problems;
    }
    return assert.fail("expected a ValidationError");
  };

  it("65 levels of flow sequences", () => {
    assert.deepEqual(problems(`a: ${"[".repeat(64)}1${"]".repeat(64)}\n`), [`(top level): arrays and objects are nested more than ${MAX_DATA_NESTING} levels deep`]);
  });

  it("nesting built from aliases", () => {
    const text = ["a: &a [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]", "b: &b [[[[[[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]]]]]", "c: &c [[[[[[[[[[[[[[[[[[[[*b]]]]]]]]]]]]]]]]]]]]", "d: [[[[[[[[[[*c]]]]]]]]]]"].join("\n");
    assert.deepEqual(problems(text), [`(top level): arrays and objects are nested more than ${MAX_DATA_NESTING} levels deep`]);
  });

  it("flow nesting deeper than the parser's stack: nested too deeply to parse", () => {
    const [problem] = problems(`a: ${"[".repeat(5000)}${"]".repeat(5000)}\n`);
    assert.match(problem ?? "", /^f\.yaml:1:\d+: nested too deeply to parse/);
  });
});

describe("layout files: size and nesting bounds", () => {
  it(`a layout file over ${MAX_DATA_FILE_BYTES} bytes is refused before it is read`, (t) => {
    const file = join(scratch(t), "big.yaml");
    writeFileSync(file, `name: test\n# ${"x".repeat(MAX_DATA_FILE_BYTES)}\n`);
    assert.throws(() => loadLayout(file), (e: unknown) => e instanceof UserError && e.message === `cannot read layout file ${file}: is 1048590 bytes (1.0 MiB); icos reads at most 1048576 bytes (1.0 MiB) from such a file`);
  });

  it("icos layout check: a deeply nested layout file exits 2 with one problem (not the whole document quoted back)", async (t) => {
    const file = join(scratch(t), "deep.yaml");
    writeFileSync(file, `name: test\npartitions:\n  - ${"[".repeat(2000)}${"]".repeat(2000)}\n`);
    const r = await icosAsync(["layout", "check", file]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error: .*deep\.yaml: 1 problem:\n  .*deep\.yaml:3:\d+: nested too deeply to parse/);
    const block = join(scratch(t), "deep-block.yaml");
    writeFileSync(block, "name: test\npartitions:\n" + Array.from({ length: 200 }, (_, i) => `${" ".repeat(2 * i + 2)}- `).join("\n") + "1\n");
    const b = await icosAsync(["layout", "check", block]);
    assert.equal(b.code, 2, b.stderr);
    assert.equal(b.stderr, `error: ${block}: 1 problem:\n  (top level): arrays and objects are nested more than ${MAX_DATA_NESTING} levels deep\n  hint: is this the right file? icos data files nest a few levels deep\n`);
  });
});
