// Small, reproducible edits of an ext4 image in place with debugfs: replace or add files and
// symlinks, with fixed owner and times. Used for the "-test" update image (same system, another
// version.txt) without building the filesystem again, and by tests that need a changed root.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ToolFailedError, UserError } from "../errors.ts";
import { run } from "../exec.ts";

export type Ext4Edit =
  | { type: "file"; path: string; content: string | Buffer; mode?: number }
  | { type: "symlink"; path: string; target: string };

/** A quoted debugfs path: inside double quotes a quote is doubled, backslashes are literal. */
function dq(path: string): string {
  return `"${path.replace(/"/g, '""')}"`;
}

/**
 * Apply `edits` to `image` (absolute paths inside it; parent directories must exist). An existing
 * entry at a path is replaced. Every touched inode and parent directory gets owner 0:0 and
 * `sourceDateEpoch` as its times, so the same edits on the same image give the same bytes.
 */
export async function editExt4(image: string, edits: readonly Ext4Edit[], o: { sourceDateEpoch: number }): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "icos-ext4-edit-"));
  try {
    const t = `@${o.sourceDateEpoch}`;
    const times = (p: string) => ["atime", "mtime", "ctime", "crtime"].map((f) => `sif ${dq(p)} ${f} ${t}`);
    const cmds: string[] = [];
    const dirs = new Set<string>();
    for (const [i, e] of edits.entries()) {
      if (!e.path.startsWith("/") || e.path.includes("\n")) throw new UserError(`ext4 edit of ${image}: bad path ${JSON.stringify(e.path)}`, "use an absolute path inside the image");
      cmds.push(`rm ${dq(e.path)}`); // fails harmlessly when absent (filtered below)
      if (e.type === "file") {
        const src = join(work, `file-${i}`);
        await writeFile(src, e.content);
        cmds.push(`write ${dq(src)} ${dq(e.path)}`, `sif ${dq(e.path)} mode 0${(0o100000 | (e.mode ?? 0o644)).toString(8)}`);
      } else {
        cmds.push(`symlink ${dq(e.path)} ${dq(e.target)}`);
      }
      cmds.push(`sif ${dq(e.path)} uid 0`, `sif ${dq(e.path)} gid 0`, ...times(e.path));
      dirs.add(dirname(e.path));
    }
    for (const d of dirs) cmds.push(...times(d));
    cmds.push("ssv kbytes_written 0");
    await writeFile(join(work, "cmds"), cmds.join("\n") + "\n");
    const env = { E2FSPROGS_FAKE_TIME: String(o.sourceDateEpoch) };
    const r = await run("debugfs", ["-w", "-f", join(work, "cmds"), image], { env, context: `edit ext4 image ${image}` });
    // debugfs -f exits 0 even when a command fails; its banner and "rm" of a missing file are not errors.
    const errors = r.stderr.split("\n").filter((l) => l.trim() && !/^debugfs \d/.test(l) && !/^rm: File not found by ext2_lookup/.test(l));
    if (errors.length) throw new ToolFailedError(`debugfs -w -f <cmds> ${image}`, "command errors", errors.slice(-5).join("\n"), `edit ext4 image ${image}`);
    await run("e2fsck", ["-fn", image], { context: `e2fsck check after editing ${image}` });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
