// podman without a daemon, as host-recipes.md proved: cgroupfs, runc (so RUN steps can have no
// network), builds never run the image. Every podman call of icos goes through here.
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { run, type RunOptions } from "../exec.ts";

const GLOBAL = ["--cgroup-manager=cgroupfs", "--runtime=runc"];

export function podman(args: string[], opts: RunOptions = {}) {
  return run("podman", [...GLOBAL, ...args], opts);
}

export interface PodmanBuild {
  context: string;
  dockerfile: string;
  target?: string;
  buildArgs: Record<string, string>;
  /** Seconds since 1970 for created times and layer file times (--timestamp). */
  timestamp: number;
  /** Dockerfile.base needs the archive; the image Dockerfile must not touch the network. */
  network: boolean;
  tag: string;
  what: string;
}

/** Build and return the image ID (sha256:...). */
export async function podmanBuild(b: PodmanBuild): Promise<string> {
  const iidfile = join(b.context, "..", `iid-${process.pid}`);
  const args = ["build", "--no-cache", "--pull=never", `--timestamp=${b.timestamp}`, `--iidfile=${iidfile}`, "-f", b.dockerfile, "-t", b.tag];
  args.push(b.network ? "--network=host" : "--network=none");
  if (b.target) args.push("--target", b.target);
  for (const [k, v] of Object.entries(b.buildArgs).sort()) args.push("--build-arg", `${k}=${v}`);
  args.push(b.context);
  await podman(args, { context: b.what });
  const id = (await readFile(iidfile, "utf8")).trim();
  await rm(iidfile, { force: true });
  return id.startsWith("sha256:") ? id : `sha256:${id}`;
}

export async function imageExists(id: string): Promise<boolean> {
  return (await podman(["image", "exists", id], { allowFailure: true })).code === 0;
}

/** Export an image's filesystem as a tar (create a container, never start it). */
export async function exportImage(id: string, out: string): Promise<void> {
  const { stdout } = await podman(["create", "--network=none", id, "/bin/true"], { context: "podman create" });
  const ctr = stdout.trim();
  try {
    await podman(["export", "-o", out, ctr], { context: "podman export" });
  } finally {
    await podman(["rm", "-f", ctr], { allowFailure: true });
  }
}

/**
 * Run `work` on a writable view of image `id`'s filesystem, with nothing copied: podman mounts
 * the image read-only and an overlay puts `dir`/upper over it, so writes and deletions land
 * there. Both mounts are gone when `work` settles. Needs root, as every podman build here.
 */
export async function withImageTree<T>(id: string, dir: string, work: (tree: string) => Promise<T>): Promise<T> {
  const { stdout } = await podman(["image", "mount", id], { context: "podman image mount" });
  const lower = stdout.trim();
  try {
    const [upper, scratch, tree] = ["upper", "work", "tree"].map((d) => join(dir, d)) as [string, string, string];
    for (const d of [upper, scratch, tree]) await mkdir(d, { recursive: true });
    await run("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${lower},upperdir=${upper},workdir=${scratch}`, tree], { context: `overlay over image ${id.slice(0, 12)}` });
    try {
      return await work(tree);
    } finally {
      await run("umount", [tree], { context: "unmount the image overlay" });
    }
  } finally {
    await podman(["image", "unmount", id], { allowFailure: true });
  }
}
