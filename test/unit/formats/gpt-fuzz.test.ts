// The GPT decoder on hostile bytes: a valid table from our encoder, mutated with a fixed seed
// (random bytes, bit flips, header and entry fields set to boundary values), with both CRCs
// usually recomputed so the mutation reaches the field checks behind them. Every result is a
// decoded GPT or a FormatError/UserError, reads stay bounded whatever the header says, and a few
// mutated files go through `icos inspect`: exit 0 or 2, never 70.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { UserError } from "../../../src/errors.ts";
import { FormatError } from "../../../src/formats/format-error.ts";
import { decodeGpt, type DecodedGpt } from "../../../src/formats/gpt-decode.ts";
import { encodeGpt, MAX_ENTRY_COUNT, MAX_ENTRY_SIZE, PARTITION_TYPES, type GptDisk } from "../../../src/formats/gpt.ts";
import { nameGuid } from "../../../src/formats/guid.ts";
import { icosAsync } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";
import { mulberry32 } from "../../helpers/prng.ts";

const SEED = 0x1c05_9a7e;
const ITERATIONS = 3000;
const SECTOR = 512;
const TOTAL_LBAS = 256; // 128 KiB: primary GPT 0..33, usable 34..222, backup array 223..254, header 255
const LAST = TOTAL_LBAS - 1;

function validImage(): Buffer {
  const disk: GptDisk = {
    sectorSize: SECTOR,
    sizeBytes: TOTAL_LBAS * SECTOR,
    diskGuid: nameGuid("fuzz", "disk"),
    entryCount: 128,
    entrySize: 128,
    partitions: [
      { index: 1, typeGuid: PARTITION_TYPES.esp, partGuid: nameGuid("fuzz", "esp"), firstLba: 34, lastLba: 99, attributes: 0n, name: "ESP" },
      { index: 2, typeGuid: PARTITION_TYPES.linux, partGuid: nameGuid("fuzz", "root"), firstLba: 100, lastLba: 222, attributes: 1n << 60n, name: "root" },
    ],
  };
  const image = Buffer.alloc(disk.sizeBytes);
  for (const r of encodeGpt(disk)) r.bytes.copy(image, r.offsetBytes);
  return image;
}

// Header fields (UEFI 5.3.2) and the values a crafted header would try.
const U32_BOUNDS = [0, 1, 127, 128, 129, 136, 1024, 1025, MAX_ENTRY_SIZE, MAX_ENTRY_SIZE + 8, 0x7fffffff, 0xffffffff];
const LBA_BOUNDS = [0n, 1n, 2n, 33n, 34n, BigInt(LAST - 1), BigInt(LAST), BigInt(TOTAL_LBAS), BigInt(TOTAL_LBAS + 1), 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];
const HEADER_FIELDS = {
  headerSize: { at: 12, values: [0, 1, 91, 92, 93, 511, 512, 513, 0xffffffff] },
  entryCount: { at: 80, values: [0, 1, 128, MAX_ENTRY_COUNT, MAX_ENTRY_COUNT + 1, 2 ** 31, 2 ** 32 - 1] },
  entrySize: { at: 84, values: [0, 1, 127, 128, 129, 256, MAX_ENTRY_SIZE, MAX_ENTRY_SIZE + 1, 2 ** 32 - 1] },
} as const;
const HEADER_LBA_FIELDS = [24, 32, 40, 48, 72]; // my_lba, alternate_lba, first/last usable, entry array LBA

/** Recompute the entry array CRC (when the header's array lies inside the image) and then the header CRC. */
function fixCrcs(image: Buffer, headerLba: number): void {
  const h = headerLba * SECTOR;
  const entryLba = image.readBigUInt64LE(h + 72);
  const bytes = image.readUInt32LE(h + 80) * image.readUInt32LE(h + 84);
  if (entryLba < BigInt(TOTAL_LBAS) && Number(entryLba) * SECTOR + bytes <= image.length) {
    const at = Number(entryLba) * SECTOR;
    image.writeUInt32LE(crc32(image.subarray(at, at + bytes)), h + 88);
  }
  const headerSize = image.readUInt32LE(h + 12);
  if (headerSize >= 92 && headerSize <= SECTOR) {
    image.writeUInt32LE(0, h + 16);
    image.writeUInt32LE(crc32(image.subarray(h, h + headerSize)), h + 16);
  }
}

function mutate(image: Buffer, rand: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const headers = pick([[1], [LAST], [1, LAST]]);
  const done: string[] = [];
  for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
    const kind = Math.floor(rand() * 6);
    for (const lba of headers) {
      const h = lba * SECTOR;
      const arrayAt = (lba === 1 ? 2 : LAST - 32) * SECTOR;
      if (kind === 0) {
        const name = pick(Object.keys(HEADER_FIELDS) as (keyof typeof HEADER_FIELDS)[]);
        const field = HEADER_FIELDS[name];
        image.writeUInt32LE(pick(field.values), h + field.at);
        done.push(name);
      } else if (kind === 1) {
        image.writeBigUInt64LE(pick(LBA_BOUNDS), h + pick(HEADER_LBA_FIELDS));
        done.push("header LBA");
      } else if (kind === 2) {
        // A partition entry's first or last LBA (5.3.3), one of the two used or an empty slot.
        const entry = arrayAt + pick([0, 1, 2, 127]) * 128;
        if (image.readBigUInt64LE(entry) === 0n) image.writeUInt32LE(0x0fc63daf, entry); // give an empty slot a type
        image.writeBigUInt64LE(pick(LBA_BOUNDS), entry + pick([32, 40]));
        done.push("entry LBA");
      } else if (kind === 3) {
        image.writeUInt32LE(pick(U32_BOUNDS), h + pick([80, 84]));
        done.push("count/size");
      } else if (kind === 4) {
        const at = pick([0, h, arrayAt]) + Math.floor(rand() * SECTOR);
        image[at] = image[at]! ^ (1 << Math.floor(rand() * 8));
        done.push("bit flip");
      } else {
        const at = pick([h, arrayAt]) + Math.floor(rand() * SECTOR);
        for (let i = 0; i < 1 + rand() * 16 && at + i < image.length; i++) image[at + i] = Math.floor(rand() * 256);
        done.push("random bytes");
      }
    }
  }
  if (rand() < 0.85) for (const lba of headers) fixCrcs(image, lba);
  return done.join(", ");
}

type Outcome = { ok: DecodedGpt } | { error: FormatError | UserError };

/** Decode through a reader that records the largest single read and the total, so a header cannot make it read (or allocate) without bound. */
function decodeCounted(image: Buffer, strict: boolean): { outcome: Outcome; largestRead: number; totalRead: number } {
  let largestRead = 0;
  let totalRead = 0;
  const readAt = (offset: number, length: number) => {
    largestRead = Math.max(largestRead, length);
    totalRead += length;
    return image.subarray(offset, offset + length);
  };
  try {
    return { outcome: { ok: decodeGpt(readAt, image.length, { strict }) }, largestRead, totalRead };
  } catch (e) {
    if (e instanceof FormatError || e instanceof UserError) return { outcome: { error: e }, largestRead, totalRead };
    throw e;
  }
}

test(`gpt fuzz: ${ITERATIONS} seeded mutations decode or fail with a FormatError, reads bounded`, { timeout: 30_000 }, () => {
  const base = validImage();
  const rand = mulberry32(SEED);
  const started = Date.now();
  const seen = new Map<string, number>();
  let decoded = 0;
  const maxRead = MAX_ENTRY_COUNT * MAX_ENTRY_SIZE;
  for (let i = 0; i < ITERATIONS; i++) {
    const image = Buffer.from(base);
    const what = mutate(image, rand);
    const strict = i % 2 === 0;
    let r: ReturnType<typeof decodeCounted>;
    try {
      r = decodeCounted(image, strict);
    } catch (e) {
      assert.fail(`iteration ${i} (${what}, strict ${strict}): ${(e as Error).stack}`);
    }
    assert.ok(r.largestRead <= maxRead, `iteration ${i} (${what}): read ${r.largestRead} bytes at once`);
    assert.ok(r.totalRead <= 2 * maxRead + 3 * SECTOR, `iteration ${i} (${what}): read ${r.totalRead} bytes in all`);
    if ("ok" in r.outcome) {
      decoded++;
      const { disk } = r.outcome.ok;
      assert.ok(disk.entryCount <= MAX_ENTRY_COUNT && disk.partitions.length <= disk.entryCount, `iteration ${i} (${what})`);
      if (strict) for (const p of disk.partitions) assert.ok(p.firstLba >= 34 && p.lastLba <= LAST - 33 && p.firstLba <= p.lastLba, `iteration ${i} (${what}): ${p.firstLba}..${p.lastLba}`);
    } else {
      // The kind of problem: the first message's words before any number, e.g. "gpt: too many partition entries at LBA".
      const kind = /^gpt: [^0-9(]*/.exec(r.outcome.error.message)?.[0].trim() ?? r.outcome.error.message.slice(0, 40);
      seen.set(kind, (seen.get(kind) ?? 0) + 1);
    }
  }
  const seconds = (Date.now() - started) / 1000;
  // The mutations reached the checks behind the CRCs: the caps and the range checks all fired.
  for (const kind of ["gpt: too many partition entries at LBA", "gpt: bad partition entry size at LBA", "gpt: bad header size at LBA", "gpt: bad usable range at LBA"]) {
    assert.ok(seen.has(kind), `never saw "${kind}"; saw:\n${[...seen].map(([k, n]) => `${n} ${k}`).join("\n")}`);
  }
  assert.ok(decoded > ITERATIONS / 20, `only ${decoded} of ${ITERATIONS} mutations decoded`);
  assert.ok(seconds < 10, `took ${seconds} s`);
});

test("gpt fuzz: mutated disks through `icos inspect` exit 0 or 2, never 70", { timeout: 60_000 }, async (t) => {
  const dir = scratch(t);
  const base = validImage();
  const files: [string, string][] = [];
  const write = (name: string, edit: (image: Buffer) => void) => {
    const image = Buffer.from(base);
    edit(image);
    writeFileSync(join(dir, name), image);
    files.push([name, join(dir, name)]);
  };
  const field = (lba: number, at: number, value: number) => (image: Buffer) => {
    image.writeUInt32LE(value, lba * SECTOR + at);
    fixCrcs(image, lba);
  };
  write("entry-count-max.img", (image) => [1, LAST].forEach((lba) => field(lba, 80, 2 ** 32 - 1)(image)));
  write("entry-size-max.img", field(1, 84, 2 ** 32 - 1));
  write("entry-lba-past-end.img", (image) => {
    image.writeBigUInt64LE(2n ** 64n - 1n, SECTOR + 72);
    fixCrcs(image, 1);
  });
  const rand = mulberry32(SEED + 1);
  for (let i = 0; i < 2; i++) write(`random-${i}.img`, (image) => mutate(image, rand));
  const results = await Promise.all(files.map(async ([name, path]) => [name, await icosAsync(["inspect", path])] as const));
  for (const [name, r] of results) {
    assert.ok(r.code === 0 || r.code === 2, `${name}: exit ${r.code}\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /internal error/, name);
  }
  const byName = new Map(results);
  assert.match(byName.get("entry-count-max.img")!.stderr, /too many partition entries at LBA 1 \(offset 80\): stored 4294967295, icos reads at most 1024/);
  assert.match(byName.get("entry-size-max.img")!.stderr, /bad partition entry size at LBA 1 \(offset 84\): stored 4294967295, expected 128\.\.4096/);
});
