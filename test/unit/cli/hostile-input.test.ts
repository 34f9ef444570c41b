// Hostile paths and files on the command line: each a user's mistake (exit 2) naming the flag or
// file, what is wrong and a hint; never a stack trace (exit 70), a hang or an unbounded read.
// FIFOs: if icos ever blocks opening one, the test opens the writing end itself (which only
// succeeds when someone is reading) so the run ends, and fails the test.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, closeSync, constants, lstatSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ROOT } from "../../../src/paths.ts";
import { icos, icosAsync, type CliResult } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";

const EXAMPLE = join(ROOT, "examples", "qemu-node.json");

function mkfifo(path: string): string {
  assert.equal(spawnSync("mkfifo", [path]).status, 0);
  return path;
}

/** A device node (root) or else a FIFO: a special file that a rename would replace. */
function specialFile(path: string): { path: string; isIntact: () => boolean } {
  if (process.getuid?.() === 0 && spawnSync("mknod", [path, "c", "1", "3"]).status === 0) return { path, isIntact: () => lstatSync(path).isCharacterDevice() };
  mkfifo(path);
  return { path, isIntact: () => lstatSync(path).isFIFO() };
}

/** Run icos; if it blocks reading `fifo`, unblock it (and report that it hung). */
async function icosWithFifo(args: string[], fifo: string): Promise<CliResult & { hung: boolean }> {
  let hung = false;
  const unblock = setInterval(() => {
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)); // ENXIO unless a reader is blocked on it
      hung = true;
    } catch {
      // nobody reading: fine
    }
  }, 3000);
  try {
    return { ...(await icosAsync(args)), hung };
  } finally {
    clearInterval(unblock);
  }
}

function userError(r: CliResult, message: string | RegExp): void {
  assert.equal(r.code, 2, `exit ${r.code}\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  if (typeof message === "string") assert.ok(r.stderr.startsWith(`error: ${message}\n  hint: `), r.stderr);
  else assert.match(r.stderr, message);
}

describe("input files that are not readable regular files", { concurrency: 2 }, () => {
  it("icos inspect DIR", async (t) => {
    const dir = scratch(t);
    // A directory names an output directory of `icos build`: it must hold disk.img.
    userError(await icosAsync(["inspect", dir]), `${dir}: is a directory without disk.img`);
  });

  it("icos inspect FIFO: refused at once, no hang", async (t) => {
    const fifo = mkfifo(join(scratch(t), "disk.img"));
    const r = await icosWithFifo(["inspect", fifo], fifo);
    assert.equal(r.hung, false, "icos blocked opening the FIFO");
    userError(r, `${fifo}: is a named pipe (FIFO), not a regular file`);
  });

  it("icos inspect of a file it may not read: permission denied (run as nobody)", (t) => {
    const dir = scratch(t);
    chmodSync(dir, 0o755);
    const file = join(dir, "disk.img");
    writeFileSync(file, Buffer.alloc(4096), { mode: 0o600 });
    if (process.getuid?.() !== 0) chmodSync(file, 0o000);
    userError(icos(["inspect", file], { asNobody: true }), `${file}: cannot read it: permission denied`);
  });

  it("icos run DIR, icos inspect OUTDIR holding a FIFO disk.img, icos run DISK --config-media FIFO", async (t) => {
    const dir = scratch(t);
    userError(await icosAsync(["run", dir]), `${dir}: is a directory without disk.img`);
    mkdirSync(join(dir, "out"));
    const fifoDisk = mkfifo(join(dir, "out", "disk.img"));
    const inDir = await icosWithFifo(["inspect", join(dir, "out")], fifoDisk);
    assert.equal(inDir.hung, false, "icos blocked opening the FIFO in an output directory");
    userError(inDir, `${fifoDisk}: is a named pipe (FIFO), not a regular file`);
    const disk = join(dir, "disk.img");
    writeFileSync(disk, Buffer.alloc(4096));
    const fifo = mkfifo(join(dir, "config.img"));
    const r = await icosWithFifo(["run", disk, "--config-media", fifo], fifo);
    assert.equal(r.hung, false);
    userError(r, `--config-media ${fifo}: is a named pipe (FIFO), not a regular file`);
  });

  it("icos upgrade --to FIFO: refused at once, no hang", async (t) => {
    const fifo = mkfifo(join(scratch(t), "update-img.tar.zst"));
    const r = await icosWithFifo(["upgrade", "--to", fifo, "--ssh", "127.0.0.1:1"], fifo);
    assert.equal(r.hung, false, "icos blocked reading the FIFO");
    userError(r, `--to ${fifo}: is a named pipe (FIFO), not a regular file`);
  });

  it("icos config guestos --config FIFO: refused at once, no hang", async (t) => {
    const dir = scratch(t);
    const fifo = mkfifo(join(dir, "node.json"));
    const r = await icosWithFifo(["config", "guestos", "--config", fifo, "--out", join(dir, "c.img")], fifo);
    assert.equal(r.hung, false, "icos blocked opening the FIFO");
    userError(r, `--config ${fifo}: is a named pipe (FIFO), not a regular file`);
  });

  it("icos base import DIR", async (t) => {
    const dir = join(scratch(t), "guestos-base-dev.oci.tar");
    mkdirSync(dir);
    userError(await icosAsync(["base", "import", dir]), `${dir}: is a directory, not a regular file`);
  });
});

describe("config files too large or too deep", { concurrency: 2 }, () => {
  it("a config over 1 MiB is refused before it is read", async (t) => {
    const dir = scratch(t);
    const file = join(dir, "node.json");
    writeFileSync(file, JSON.stringify({ config_version: "1.1.0", padding: "x".repeat(1 << 20) }));
    userError(await icosAsync(["config", "guestos", "--config", file, "--out", join(dir, "c.img")]), `--config ${file}: is 1048615 bytes (1.0 MiB); icos reads at most 1048576 bytes (1.0 MiB) from such a file`);
  });

  it("a config nested 100000 deep: one problem, no stack overflow", async (t) => {
    const dir = scratch(t);
    const file = join(dir, "node.json");
    writeFileSync(file, `{"config_version":"1.1.0","network_settings":${"[".repeat(100_000)}${"]".repeat(100_000)}}`);
    const r = await icosAsync(["config", "guestos", "--config", file, "--out", join(dir, "c.img")]);
    userError(r, new RegExp(`^error: ${file}: 1 problem:\\n  \\(top level\\): arrays and objects are nested more than 64 levels deep\\n`));
  });
});

describe("--out naming a directory or a special file", { concurrency: 2 }, () => {
  it("icos config schema --out DIR", async (t) => {
    const dir = scratch(t);
    userError(await icosAsync(["config", "schema", "--out", dir]), new RegExp(`^error: --out ${dir}: is a directory; icos writes its output to a new file and renames it over the target`));
  });

  it("icos config schema --out DEVICE is refused, and the node stays", async (t) => {
    const node = specialFile(join(scratch(t), "dev"));
    userError(await icosAsync(["config", "schema", "--out", node.path]), new RegExp(`^error: --out ${node.path}: is a (character device|named pipe \\(FIFO\\)); `));
    assert.ok(node.isIntact(), "the special file was replaced");
  });

  it("icos config guestos --out DEVICE is refused, and the node stays", async (t) => {
    const node = specialFile(join(scratch(t), "dev"));
    userError(await icosAsync(["config", "guestos", "--config", EXAMPLE, "--out", node.path]), new RegExp(`^error: --out ${node.path}: is a (character device|named pipe \\(FIFO\\)); `));
    assert.ok(node.isIntact(), "the special file was replaced");
  });

  it("icos config schema --out MISSING/x.json, media-rules too: the directory is named", async (t) => {
    const out = join(scratch(t), "missing", "x.json");
    for (const cmd of ["schema", "media-rules"]) {
      userError(await icosAsync(["config", cmd, "--out", out]), `--out ${out}: the directory ${dirname(out)} does not exist`);
    }
  });

  it("icos config schema --out: empty, under /proc, in a directory icos may not write (as nobody): no stack", async (t) => {
    userError(await icosAsync(["config", "schema", "--out", ""]), "--out: the path is empty");
    userError(await icosAsync(["config", "schema", "--out", "/proc/x.json"]), "--out /proc/x.json: cannot write it: cannot create files there (ENOENT)");
    const dir = scratch(t);
    chmodSync(dir, 0o755);
    const ro = join(dir, "ro");
    mkdirSync(ro, { mode: 0o555 });
    for (const cmd of [["config", "schema"], ["config", "guestos", "--config", EXAMPLE]]) {
      userError(icos([...cmd, "--out", join(ro, "x.out")], { asNobody: true }), `--out ${join(ro, "x.out")}: cannot write in ${ro}: permission denied`);
    }
  });

  it("icos config guestos --out DIR or MISSING/x.img: --out is the problem, not the config file", async (t) => {
    const dir = scratch(t);
    userError(await icosAsync(["config", "guestos", "--config", EXAMPLE, "--out", dir]), new RegExp(`^error: --out ${dir}: is a directory; icos writes its output to a new file`));
    const out = join(dir, "missing", "config.img");
    userError(await icosAsync(["config", "guestos", "--config", EXAMPLE, "--out", out]), `--out ${out}: the directory ${dirname(out)} does not exist`);
  });

  it("icos base export --out FILE (a directory is expected)", async (t) => {
    const file = join(scratch(t), "bases");
    writeFileSync(file, "");
    userError(await icosAsync(["base", "export", "guestos", "--out", file]), `--out ${file}: is a regular file, not a directory`);
  });
});
