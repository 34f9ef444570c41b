import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildExt4 } from "../../../src/image/ext4.ts";
import { editExt4 } from "../../../src/image/ext4-edit.ts";
import { run } from "../../../src/exec.ts";
import { scratch } from "../../helpers/tmp.ts";

const SDE = 1700000000;
const sha = (f: string): string => createHash("sha256").update(readFileSync(f)).digest("hex");
const debugfs = async (img: string, cmd: string): Promise<string> => (await run("debugfs", ["-R", cmd, img])).stdout;

test("editExt4: replaces and adds files and symlinks, fixed owner and times, same bytes every time", async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, "tree/opt/ic/share"), { recursive: true });
  mkdirSync(join(dir, "tree/etc"));
  writeFileSync(join(dir, "tree/opt/ic/share/version.txt"), "1.0.0\n");
  const img = join(dir, "a.img");
  await buildExt4({ tree: join(dir, "tree"), out: img, sizeBytes: 8 << 20, label: "root", uuid: "0f0e0d0c-0000-4000-8000-000000000002", sourceDateEpoch: SDE });
  copyFileSync(img, join(dir, "b.img"));
  const edits = [
    { type: "file", path: "/opt/ic/share/version.txt", content: "1.0.0-test\n" },
    { type: "file", path: "/etc/new.sh", content: "#!/bin/sh\n", mode: 0o755 },
    { type: "symlink", path: "/etc/link", target: "new.sh" },
  ] as const;
  await editExt4(img, edits, { sourceDateEpoch: SDE });
  await new Promise((r) => setTimeout(r, 1100)); // a wall-clock second must not show up
  await editExt4(join(dir, "b.img"), edits, { sourceDateEpoch: SDE });
  assert.equal(sha(img), sha(join(dir, "b.img")));
  await run("e2fsck", ["-fn", img]);
  assert.equal(await debugfs(img, "cat /opt/ic/share/version.txt"), "1.0.0-test\n");
  const stat = await debugfs(img, "stat /etc/new.sh");
  assert.match(stat, /Mode: {2}0755/);
  assert.match(stat, /User: +0 +Group: +0 /);
  for (const f of ["ctime", "atime", "mtime", "crtime"]) assert.match(stat, new RegExp(`${f}: 0x6553f100:00000000`), f);
  assert.match(await debugfs(img, "stat /etc/link"), /Fast link dest: "new.sh"/);
});

test("editExt4: a missing parent directory is an error naming the image", async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, "tree"));
  const img = join(dir, "a.img");
  await buildExt4({ tree: join(dir, "tree"), out: img, sizeBytes: 4 << 20, label: "x", uuid: "0f0e0d0c-0000-4000-8000-000000000003", sourceDateEpoch: SDE });
  await assert.rejects(editExt4(img, [{ type: "file", path: "/no/such/dir/f", content: "x" }], { sourceDateEpoch: SDE }), (e: Error) => e.message.includes(img));
  await assert.rejects(editExt4(img, [{ type: "file", path: "relative", content: "x" }], { sourceDateEpoch: SDE }), /bad path "relative"/);
});
