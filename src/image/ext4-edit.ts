// Small, reproducible edits of an ext4 image in place with debugfs: replace or add files and
// symlinks, with fixed owner and times. Used for the "-test" update image (same system, another
// version.txt) without building the filesystem again, and by tests that need a changed root.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { UserError } from "../errors.ts";
import { run } from "../exec.ts";
import { debugfsPath as dq, debugfsTimes, RESET_LIFETIME_WRITES, runDebugfsScript } from "./debugfs.ts";

export type Ext4Edit =
  | { type: "file"; path: string; content: string | Buffer; mode?: number }
  | { type: "symlink"; path: string; target: string };

/**
 * Apply `edits` to `image` (absolute paths inside it; parent directories must exist). An existing
 * entry at a path is replaced. Every touched inode and parent directory gets owner 0:0 and
 * `sourceDateEpoch` as its times, so the same edits on the same image give the same bytes.
 */
export async function editExt4(image: string, edits: readonly Ext4Edit[], o: { sourceDateEpoch: number }): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "icos-ext4-edit-"));
  try {
    const times = (p: string) => debugfsTimes(p, o.sourceDateEpoch, ["atime", "mtime", "ctime", "crtime"]);
    const cmds: string[] = [];
    const dirs = new Set<string>();
    for (const [i, e] of edits.entries()) {
      if (!e.path.startsWith("/") || e.path.includes("\n")) throw new UserError(`ext4 edit of ${image}: bad path ${JSON.stringify(e.path)}`, "use an absolute path inside the image");
      cmds.push(`rm ${dq(e.path)}`); // fails harmlessly when absent (ignored below)
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
    cmds.push(RESET_LIFETIME_WRITES);
    await runDebugfsScript(image, cmds, { sourceDateEpoch: o.sourceDateEpoch, context: `edit ext4 image ${image}`, ignore: /^rm: File not found by ext2_lookup/ });
    await run("e2fsck", ["-fn", image], { context: `e2fsck check after editing ${image}` });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
