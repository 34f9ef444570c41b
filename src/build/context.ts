// The podman build context of an OS: its context/ folder plus, for the image Dockerfile, the
// components merged into components/ at their install paths. Assembled in a scratch directory
// with normalised modes and one mtime, so the context's bytes depend on the files alone.
import { chmod, cp, lutimes, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { listTree } from "../fs/files.ts";
import type { OsDefinition } from "../model/os.ts";
import { IC_OS_DIR } from "../paths.ts";
import type { Store } from "./store.ts";

export async function assembleContext(store: Store, os: OsDefinition, opts: { components: boolean; sourceDateEpoch: number }): Promise<string> {
  const ctx = join(store.scratch(`ctx-${os.name}`), "context");
  await cp(join(os.dir, "context"), ctx, { recursive: true });
  if (opts.components) {
    const dest = join(ctx, "components");
    await mkdir(dest, { recursive: true });
    for (const name of os.components) {
      const src = join(IC_OS_DIR, "components", name);
      for (const entry of await readdir(src)) {
        if (entry === "README.md") continue; // documentation, not an installed file
        await cp(join(src, entry), join(dest, entry), { recursive: true, force: false, errorOnExist: true });
      }
    }
  }
  for (const e of await listTree(ctx)) {
    if (!e.stat.isSymbolicLink()) await chmod(e.abs, e.stat.isDirectory() || e.stat.mode & 0o111 ? 0o755 : 0o644);
    await lutimes(e.abs, opts.sourceDateEpoch, opts.sourceDateEpoch);
  }
  await lutimes(ctx, opts.sourceDateEpoch, opts.sourceDateEpoch);
  return ctx;
}
