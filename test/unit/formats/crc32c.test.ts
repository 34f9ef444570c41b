import { test } from "node:test";
import assert from "node:assert/strict";
import { crc32c } from "../../../src/formats/crc32c.ts";

test("crc32c: the standard check value, and chained calls equal one call", () => {
  assert.equal((crc32c(0xffffffff, Buffer.from("123456789")) ^ 0xffffffff) >>> 0, 0xe3069283);
  assert.equal(crc32c(crc32c(0xffffffff, Buffer.from("1234")), Buffer.from("56789")), crc32c(0xffffffff, Buffer.from("123456789")));
});
