// Layouts whose sizes are each valid but whose sums pass 2^53 - 1 bytes (where numbers stop being
// exact): a `file: partitions[i] (name).field: ...` problem, exit 2, not a RangeError from the
// arithmetic or formatting after it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../../src/errors.ts";
import { parseLayout, resolveLayout, scaleLayout, validateLayout } from "../../../src/model/layout.ts";
import { parseYaml } from "../../../src/model/data-file.ts";
import { icosAsync } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";

const BEYOND = "beyond the largest disk icos can lay out (9007199254740991 bytes, about 8P)";
const layout = (partitions: string, top = "") => parseYaml(`name: test\n${top}partitions:\n${partitions}`, "t.yaml");
const problems = (partitions: string, top = ""): string[] => {
  const r = parseLayout(layout(partitions, top));
  return r.ok ? [] : r.problems;
};

describe("layout sizes that overflow", () => {
  it("two partitions of 8191T end past 2^53 bytes: the second one's size is named", () => {
    const p = "  - { name: a, type: linux, size: 8191T, contents: root }\n  - { name: b, type: linux, size: 8191T, contents: root }\n";
    assert.deepEqual(problems(p), [`partitions[1] (b).size: the partition would end at about 16P, ${BEYOND}`]);
  });

  it("an explicit start that pushes the end past 2^53 bytes names start", () => {
    const p = `  - { name: a, type: linux, start: 8191T, size: 8191T, contents: root }\n`;
    assert.deepEqual(problems(p), [`partitions[0] (a).start: the partition would end at about 16P, ${BEYOND}`]);
  });

  it("LVM volumes that together pass 2^53 bytes", () => {
    const p = "  - { name: pv, type: lvm, size: 10G, contents: lvm, lvm: { vg: v, volumes: [{ name: x, size: 8191T, contents: root }, { name: y, size: 8191T, contents: root }] } }\n";
    assert.deepEqual(problems(p), [`partitions[0] (pv).lvm.volumes: together about 16P, ${BEYOND}`]);
  });

  it("the largest layout that fits still resolves exactly", () => {
    const r = resolveLayout(validateLayout(layout("  - { name: a, type: linux, size: 8191T, contents: root }\n"), "t.yaml"));
    assert.equal(r.sizeBytes, 8191 * 2 ** 40 + 2 ** 20 + 2 ** 20);
    assert.ok(Number.isSafeInteger(r.sizeBytes));
  });

  it("scaleLayout only scales down: a factor above 1 is a UserError", () => {
    const l = validateLayout(layout("  - { name: a, type: linux, size: 1G, contents: root }\n"), "t.yaml");
    for (const scale of [2, 1e300, 0, Number.NaN]) assert.throws(() => scaleLayout(l, scale), UserError);
    assert.equal(resolveLayout(l, { scale: 1e-30 }).partitions[0]?.sizeBytes, 2 ** 20, "a tiny scale leaves one alignment unit, never 0");
  });

  it("icos layout check exits 2 naming the file and partition", async (t) => {
    const file = join(scratch(t), "huge.yaml");
    writeFileSync(file, "name: test\npartitions:\n  - { name: a, type: linux, size: 8191T, contents: root }\n  - { name: b, type: linux, size: 8191T, contents: root }\n");
    const r = await icosAsync(["layout", "check", file]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `error: ${file}: 1 problem:\n  partitions[1] (b).size: the partition would end at about 16P, ${BEYOND}\n`);
  });
});
