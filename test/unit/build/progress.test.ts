// Progress: stage lines, the heartbeat of a long stage (with the bytes it reported) and silence
// when quiet. Short intervals stand in for the 5 s / 10 s defaults.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { humanBytes, Progress } from "../../../src/build/progress.ts";

function recorder(opts: { quiet?: boolean } = {}) {
  const lines: string[] = [];
  const progress = new Progress({ ...opts, write: (l) => lines.push(l), heartbeatAfterMs: 60, heartbeatEveryMs: 120 });
  return { lines, progress };
}

const beats = (lines: string[]) => lines.filter((l) => l.includes("still running"));

test("a stage that runs long prints a heartbeat with elapsed time and the bytes it reported", async () => {
  const { lines, progress } = recorder();
  await progress.stage("disk", "tinyos/dev disk", "ab".repeat(32), async () => {
    progress.bytes(3 << 20, 12 << 20);
    await sleep(420);
    return { value: 1, cache: "miss" };
  });
  const b = beats(lines);
  // First beat after ~60 ms, then every ~120 ms: about 3 in 420 ms (fewer on a busy machine, never more).
  assert.ok(b.length >= 1 && b.length <= 4, lines.join("\n"));
  assert.match(b[0]!, /^\[\s*\d+\.\ds\] disk\s+tinyos\/dev disk: still running after \d+ s, 3\.0 MiB of 12 MiB \(25%\)$/);
  assert.match(lines.at(-1)!, /disk\s+tinyos\/dev disk: built in 0\.\ds \(abababababab\)$/);
});

test("a short stage prints no heartbeat, and none follows it once it ended", async () => {
  const { lines, progress } = recorder();
  await progress.stage("image", "x", "cd".repeat(32), async () => ({ value: 1, cache: "hit" }));
  await sleep(250);
  assert.deepEqual(beats(lines), []);
  assert.equal(lines.length, 2);
});

test("bytes without a total, and a nested stage beats for itself", async () => {
  const { lines, progress } = recorder();
  await progress.stage("outer", "o", "0".repeat(64), async () => {
    await progress.stage("inner", "i", "1".repeat(64), async () => {
      progress.bytes(1536);
      await sleep(200);
      return { value: 1, cache: "miss" };
    });
    return { value: 1, cache: "miss" };
  });
  const b = beats(lines);
  assert.ok(b.length >= 1, lines.join("\n"));
  assert.ok(b.every((l) => / inner\s+i: still running after \d+ s, 1\.5 KiB$/.test(l)), b.join("\n"));
});

test("quiet: nothing printed, the stage reports still kept; a failing stage stops its heartbeat", async () => {
  const { lines, progress } = recorder({ quiet: true });
  await progress.stage("disk", "d", "e".repeat(64), async () => {
    await sleep(200);
    return { value: 1, cache: "miss" };
  });
  assert.deepEqual(lines, []);
  assert.equal(progress.stages.length, 1);

  const loud = recorder();
  await assert.rejects(loud.progress.stage("disk", "d", "f".repeat(64), async () => Promise.reject(new Error("boom"))), /boom/);
  await sleep(250);
  assert.deepEqual(beats(loud.lines), []);
});

test("humanBytes", () => {
  assert.equal(humanBytes(0), "0 bytes");
  assert.equal(humanBytes(1023), "1023 bytes");
  assert.equal(humanBytes(1536), "1.5 KiB");
  assert.equal(humanBytes(130 * 2 ** 20), "130 MiB");
  assert.equal(humanBytes(2194 * 2 ** 20), "2.1 GiB");
});
