// Scripts for debugfs, the one tool that edits an ext4 image without mounting it: quoting paths
// for its command language, and running a script, whose failures debugfs itself does not report
// in its exit code.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ToolFailedError } from "../errors.ts";
import { run } from "../exec.ts";

/** A debugfs path argument: inside double quotes a quote is doubled, backslashes are literal. */
export function debugfsPath(path: string): string {
  return `"${path.replace(/"/g, '""')}"`;
}

/** `sif` commands setting every time of `path` to `epoch` (Unix seconds). */
export function debugfsTimes(path: string, epoch: number, fields: readonly string[] = ["atime", "mtime", "ctime"]): string[] {
  return fields.map((f) => `sif ${debugfsPath(path)} ${f} @${epoch}`);
}

/** Lifetime writes depend on how the source was read (page cache, filesystem): not reproducible. */
export const RESET_LIFETIME_WRITES = "ssv kbytes_written 0";

/**
 * Run `commands` with `debugfs -w -f` on `image`. debugfs -f exits 0 even when a command fails, so
 * anything on stderr but its banner (and lines matching `ignore`) is an error, reported with the
 * last of them. E2FSPROGS_FAKE_TIME is `sourceDateEpoch`, so what debugfs stamps itself is fixed.
 */
export async function runDebugfsScript(image: string, commands: readonly string[], o: { sourceDateEpoch: number; context: string; ignore?: RegExp }): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "icos-debugfs-"));
  try {
    const script = join(work, "cmds");
    await writeFile(script, commands.join("\n") + "\n");
    const r = await run("debugfs", ["-w", "-f", script, image], { env: { E2FSPROGS_FAKE_TIME: String(o.sourceDateEpoch) }, context: o.context });
    const errors = r.stderr.split("\n").filter((l) => l.trim() && !/^debugfs \d/.test(l) && !o.ignore?.test(l));
    if (errors.length) throw new ToolFailedError(`debugfs -w -f <cmds> ${image}`, "command errors", errors.slice(-5).join("\n"), o.context);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
