import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UserError } from "../../../src/errors.ts";
import { checkSize, formatSize, humanSize, GiB, MiB, parseSize, roundUp } from "../../../src/model/size.ts";

describe("parseSize", () => {
  const valid: [string, number][] = [
    ["0", 0],
    ["512", 512],
    ["16896", 16896],
    ["1K", 1024],
    ["100M", 100 * MiB],
    ["1G", GiB],
    ["1.5G", 1.5 * GiB],
    ["16.5K", 16896],
    ["1792M", 1792 * MiB],
    ["2T", 2 * 1024 * GiB],
    [" 4M ", 4 * MiB],
  ];
  for (const [text, bytes] of valid) {
    it(`reads ${JSON.stringify(text)} as ${bytes} bytes`, () => assert.equal(parseSize(text), bytes));
  }

  const invalid: [unknown, string][] = [
    [512, `expected a size like "512M", got 512`],
    [null, `expected a size like "512M", got null`],
    ["", `expected a size like "512M", got ""`],
    ["lots", `expected a size like "512M", got "lots"`],
    ["M", `expected a size like "512M", got "M"`],
    ["1 G", `expected a size like "512M", got "1 G"`],
    ["-1M", `expected a size like "512M", got "-1M" (sizes cannot be negative)`],
    ["1.5", `expected a size like "512M", got "1.5" (not a whole number of bytes)`],
    ["0.3K", `expected a size like "512M", got "0.3K" (not a whole number of bytes)`],
    ["100MB", `expected a size like "512M", got "100MB" (unknown suffix "MB"; use K, M, G or T (powers of 1024), or none for bytes)`],
    ["100m", `expected a size like "512M", got "100m" (unknown suffix "m"; use K, M, G or T (powers of 1024), or none for bytes)`],
    ["9999999T", `expected a size like "512M", got "9999999T" (too large: at most 9007199254740991 bytes, about 8P)`],
  ];
  for (const [value, message] of invalid) {
    it(`rejects ${JSON.stringify(value)}`, () => {
      assert.deepEqual(checkSize(value), { ok: false, message });
      if (typeof value === "string") assert.throws(() => parseSize(value), (e: unknown) => e instanceof UserError && e.message === message);
    });
  }
});

describe("formatSize", () => {
  const cases: [number, string][] = [
    [0, "0"],
    [512, "512"],
    [1024, "1K"],
    [16896, "16.5K"],
    [100 * MiB, "100M"],
    [1792 * MiB, "1.75G"],
    [GiB, "1G"],
    [1.5 * GiB, "1.5G"],
    [1.125 * GiB, "1.125G"],
    [10 * GiB, "10G"],
    [94309 * MiB, "94309M"],
    [1024 * GiB, "1T"],
    [GiB + 16896, "1048592.5K"],
    [GiB + 1, "1073741825"],
  ];
  for (const [bytes, text] of cases) {
    it(`writes ${bytes} as ${text} and reads it back`, () => {
      assert.equal(formatSize(bytes), text);
      assert.equal(parseSize(text), bytes);
    });
  }

  it("rejects what is not a byte count", () => {
    assert.throws(() => formatSize(-1), RangeError);
    assert.throws(() => formatSize(1.5), RangeError);
  });
});

describe("roundUp", () => {
  it("rounds up to the unit and keeps multiples", () => {
    assert.equal(roundUp(1, MiB), MiB);
    assert.equal(roundUp(MiB, MiB), MiB);
    assert.equal(roundUp(0, MiB), 0);
    assert.equal(roundUp(100 * MiB + 1, 4 * MiB), 104 * MiB);
  });
});

it("humanSize uses binary units like ls -h", () => {
  assert.deepEqual(
    [0, 512, 1024, 1536, 100 * MiB, 1024 * MiB, 1536 * MiB, 10 * 1024 - 1, 3 * 1024 ** 4].map(humanSize),
    ["0B", "512B", "1.0K", "1.5K", "100M", "1.0G", "1.5G", "10K", "3.0T"],
  );
});
