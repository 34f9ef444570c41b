// The podman build context of an OS: its context/ folder plus, for the image Dockerfile, the
// components' initramfs-tools files in initramfs/ at their install paths (update-initramfs needs
// them; the other component files are laid in after the Dockerfile, see components.ts).
// Assembled in a scratch directory with normalised modes and one mtime, so the context's bytes
// depend on the files alone.
import { chmod, cp, lutimes } from "node:fs/promises";
import { join } from "node:path";
import { listTree } from "../fs/files.ts";
import type { OsDefinition } from "../model/os.ts";
import { copyInitramfsFiles } from "./components.ts";
import type { Store } from "./store.ts";

export async function assembleContext(store: Store, os: OsDefinition, opts: { components: boolean; sourceDateEpoch: number }): Promise<string> {
  const ctx = join(store.scratch(`ctx-${os.name}`), "context");
  await cp(join(os.dir, "context"), ctx, { recursive: true });
  // The rest of the components is laid in after the Dockerfile (components.ts), so it is not here.
  if (opts.components) await copyInitramfsFiles(os, join(ctx, "initramfs"));
  for (const e of await listTree(ctx)) {
    if (!e.stat.isSymbolicLink()) await chmod(e.abs, e.stat.isDirectory() || e.stat.mode & 0o111 ? 0o755 : 0o644);
    await lutimes(e.abs, opts.sourceDateEpoch, opts.sourceDateEpoch);
  }
  await lutimes(ctx, opts.sourceDateEpoch, opts.sourceDateEpoch);
  return ctx;
}
