import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson, digestOf, digestTree } from "../../../src/build/digest.ts";
import { scratch } from "../../helpers/tmp.ts";

test("canonicalJson: key order does not matter, array order does", () => {
  assert.equal(canonicalJson({ b: 1, a: { d: 2, c: 3 } }), '{"a":{"c":3,"d":2},"b":1}');
  assert.equal(digestOf({ a: 1, b: 2 }), digestOf({ b: 2, a: 1 }));
  assert.notEqual(digestOf([1, 2]), digestOf([2, 1]));
});

test("digestTree: content, names and the exec bit count; mtimes do not", async (t) => {
  const make = (root: string) => {
    mkdirSync(join(root, "etc"), { recursive: true });
    writeFileSync(join(root, "etc/fstab"), "# fstab\n");
    writeFileSync(join(root, "run.sh"), "#!/bin/sh\n");
    chmodSync(join(root, "run.sh"), 0o755);
  };
  const [a, b] = [join(scratch(t), "a"), join(scratch(t), "b")];
  make(a);
  make(b);
  utimesSync(join(b, "etc/fstab"), 1, 1);
  const base = await digestTree(a);
  assert.equal(await digestTree(b), base);
  chmodSync(join(b, "run.sh"), 0o644);
  assert.notEqual(await digestTree(b), base);
  chmodSync(join(b, "run.sh"), 0o755);
  writeFileSync(join(b, "etc/fstab"), "# changed\n");
  assert.notEqual(await digestTree(b), base);
});
