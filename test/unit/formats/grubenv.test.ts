import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeGrubenv, encodeGrubenv, GRUBENV_SIZE } from "../../../src/formats/grubenv.ts";
import { run } from "../../../src/exec.ts";
import { scratch } from "../../helpers/tmp.ts";

const AB = { boot_alternative: "A", boot_cycle: "stable" };

test("grubenv: exactly 1024 bytes, signature first, '#' padding", () => {
  const block = encodeGrubenv(AB);
  assert.equal(block.length, GRUBENV_SIZE);
  assert.ok(block.toString().startsWith("# GRUB Environment Block\n"));
  assert.equal(block[GRUBENV_SIZE - 1], "#".charCodeAt(0));
  assert.deepEqual(Object.fromEntries(decodeGrubenv(block)), AB);
});

test("grubenv: backslashes round-trip with GRUB's escaping", () => {
  const block = encodeGrubenv({ path: "a\\b" });
  assert.match(block.toString(), /path=a\\\\b\n/);
  assert.equal(decodeGrubenv(block).get("path"), "a\\b");
});

test("grubenv: refuses newlines, bad keys, duplicates and overflow", () => {
  assert.throws(() => encodeGrubenv({ k: "a\nb" }), /value of k contains a newline/);
  assert.throws(() => encodeGrubenv({ "a=b": "x" }), /invalid variable name "a=b"/);
  assert.throws(() => encodeGrubenv([["k", "1"], ["k", "2"]]), /variable k given twice/);
  assert.throws(() => encodeGrubenv({ big: "x".repeat(1000) }), /need 1\d{3} bytes, more than the 1024-byte block/);
});

test("grubenv: decode rejects a wrong size or signature", () => {
  assert.throws(() => decodeGrubenv(Buffer.alloc(512, "#")), /expected 1024 bytes, got 512/);
  assert.throws(() => decodeGrubenv(Buffer.alloc(1024, "#")), /bad signature at offset 0/);
});

test("grubenv: grub-editenv reads what we write", async (t) => {
  const file = join(scratch(t), "grubenv");
  writeFileSync(file, encodeGrubenv({ ...AB, note: "x\\y" }));
  const { stdout } = await run("grub-editenv", [file, "list"]);
  assert.equal(stdout, "boot_alternative=A\nboot_cycle=stable\nnote=x\\y\n");
});

test("grubenv: we read what grub-editenv writes, byte for byte the same block", async (t) => {
  const file = join(scratch(t), "grubenv");
  await run("grub-editenv", [file, "create"]);
  await run("grub-editenv", [file, "set", "boot_alternative=B", "boot_cycle=first_boot", "odd=a\\b"]);
  const theirs = readFileSync(file);
  assert.deepEqual(Object.fromEntries(decodeGrubenv(theirs)), { boot_alternative: "B", boot_cycle: "first_boot", odd: "a\\b" });
  assert.ok(encodeGrubenv({ boot_alternative: "B", boot_cycle: "first_boot", odd: "a\\b" }).equals(theirs));
  // And an escaped newline written by the tool decodes to a newline.
  await run("grub-editenv", [file, "set", "multi=a\nb"]);
  assert.equal(decodeGrubenv(readFileSync(file)).get("multi"), "a\nb");
});
