// The checks on paths a user names: inputs must be readable regular files, outputs regular files
// or new. Hostile kinds of file are made in a scratch directory (a FIFO, a socket, a device node
// when we are root); /dev/null is only ever read-checked, never named as an output.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { lstatSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { UserError } from "../../src/errors.ts";
import { writeAtomically } from "../../src/fs/files.ts";
import { inputFile, outputDirectory, outputFile, outputTarget, readInputText } from "../../src/user-files.ts";
import { scratch } from "../helpers/tmp.ts";

const refused = (message: string | RegExp) => (e: unknown) => {
  assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
  if (typeof message === "string") assert.equal(e.message, message);
  else assert.match(e.message, message);
  return true;
};

function mkfifo(path: string): string {
  const r = spawnSync("mkfifo", [path]);
  assert.equal(r.status, 0, String(r.stderr));
  return path;
}

describe("inputFile", () => {
  it("a regular file passes and its stat comes back", (t) => {
    const file = join(scratch(t), "a.json");
    writeFileSync(file, "{}");
    assert.equal(inputFile(file).size, 2);
  });

  it("missing, a directory, a FIFO (without blocking), a character device and a socket are refused by kind", async (t) => {
    const dir = scratch(t);
    assert.throws(() => inputFile(join(dir, "nope"), "--to nope"), refused("--to nope: no such file"));
    assert.throws(() => inputFile(join(dir, "nope", "deeper")), refused(/: no such file$/));
    assert.throws(() => inputFile(dir, `--config ${dir}`), refused(`--config ${dir}: is a directory, not a regular file`));
    const fifo = mkfifo(join(dir, "fifo"));
    assert.throws(() => inputFile(fifo), refused(`${fifo}: is a named pipe (FIFO), not a regular file`));
    assert.throws(() => inputFile("/dev/null"), refused("/dev/null: is a character device, not a regular file"));
    const sock = join(dir, "sock");
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    t.after(() => server.close());
    assert.throws(() => inputFile(sock), refused(`${sock}: is a socket, not a regular file`));
  });

  it("the caller's hint replaces the default one", (t) => {
    const dir = scratch(t);
    assert.throws(() => inputFile(dir, dir, { hint: "give a disk image" }), (e: unknown) => e instanceof UserError && e.hint === "give a disk image");
    assert.throws(() => inputFile(dir), (e: unknown) => e instanceof UserError && e.hint === "name a file, not a directory");
  });

  it("maxBytes refuses a larger file before reading it; readInputText reads at most that", (t) => {
    const file = join(scratch(t), "big.yaml");
    writeFileSync(file, "x".repeat(2048));
    assert.throws(() => inputFile(file, "cannot read layout file big.yaml", { maxBytes: 1024 }), refused("cannot read layout file big.yaml: is 2048 bytes; icos reads at most 1024 bytes from such a file"));
    assert.equal(readInputText(file, "f", { maxBytes: 2048 }).length, 2048);
    assert.throws(() => readInputText(file, "f", { maxBytes: 2047 }), refused("f: is 2048 bytes; icos reads at most 2047 bytes from such a file"));
  });

  it("an unreadable file is 'permission denied' (when not root; the CLI test runs as nobody)", { skip: process.getuid?.() === 0 && "root reads every file" }, (t) => {
    const file = join(scratch(t), "secret.json");
    writeFileSync(file, "{}", { mode: 0o000 });
    assert.throws(() => inputFile(file), refused(`${file}: cannot read it: permission denied`));
  });
});

describe("outputs", () => {
  it("outputTarget: a new path or a regular file is fine; a directory, FIFO or device node is refused", (t) => {
    const dir = scratch(t);
    outputTarget(join(dir, "new.img"));
    writeFileSync(join(dir, "old.img"), "x");
    outputTarget(join(dir, "old.img"));
    assert.throws(() => outputTarget(dir, `--out ${dir}`), refused(new RegExp(`^--out ${dir}: is a directory; icos writes its output to a new file and renames it over the target`)));
    const fifo = mkfifo(join(dir, "fifo"));
    assert.throws(() => outputTarget(fifo), refused(/: is a named pipe \(FIFO\); /));
    assert.throws(() => outputTarget("/dev/null"), refused(/^\/dev\/null: is a character device; /));
  });

  it("outputFile also needs the directory; outputDirectory refuses anything but a directory", (t) => {
    const dir = scratch(t);
    assert.throws(() => outputFile(join(dir, "no", "x.json"), "--out x"), refused(`--out x: the directory ${join(dir, "no")} does not exist`));
    writeFileSync(join(dir, "file"), "x");
    assert.throws(() => outputFile(join(dir, "file", "x.json"), "--out x"), refused(`--out x: ${join(dir, "file")} is a regular file, not a directory`));
    outputDirectory(join(dir, "new"));
    outputDirectory(dir);
    assert.throws(() => outputDirectory(join(dir, "file"), "--out f"), refused("--out f: is a regular file, not a directory"));
  });

  it("writeAtomically refuses to rename over a FIFO or device node, which stays as it was", async (t) => {
    const dir = scratch(t);
    const fifo = mkfifo(join(dir, "fifo"));
    await assert.rejects(writeAtomically(fifo, async (tmp) => writeFileSync(tmp, "data")), UserError);
    assert.ok(lstatSync(fifo).isFIFO());
    if (process.getuid?.() === 0 && spawnSync("mknod", [join(dir, "null"), "c", "1", "3"]).status === 0) {
      await assert.rejects(writeAtomically(join(dir, "null"), async (tmp) => writeFileSync(tmp, "data")), UserError);
      assert.ok(lstatSync(join(dir, "null")).isCharacterDevice());
    }
    await writeAtomically(join(dir, "ok"), async (tmp) => writeFileSync(tmp, "data"));
    assert.equal(readFileSync(join(dir, "ok"), "utf8"), "data");
  });
});
