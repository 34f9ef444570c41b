// Components (ic-os/components/<name>/) are laid into the root tree after the Dockerfile, the way
// IC-OS injects extra files into its root partition: changing one never reruns the Dockerfile or
// apt. Only the files update-initramfs needs (initramfs-tools hooks and config) go into the
// Dockerfile's context too, as initramfs/. Modes are explicit (0755 with git's executable bit,
// else 0644, then os.yaml fileModes), owners root, so the caller's umask cannot reach the image.
import { chmod, copyFile, lchown, lstat, mkdir, readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { UserError } from "../errors.ts";
import { run } from "../exec.ts";
import { listTree } from "../fs/files.ts";
import { sha256 } from "../fs/hash.ts";
import type { OsDefinition } from "../model/os.ts";
import { IC_OS_DIR } from "../paths.ts";
import { digestOf } from "./digest.ts";

/** Where update-initramfs looks for hooks, scripts and config: these files enter the Dockerfile's context. */
const INITRAMFS_PREFIXES = ["etc/initramfs-tools/", "usr/share/initramfs-tools/"];

export interface ComponentFile {
  component: string;
  /** Path in the image, relative to / (e.g. "opt/ic/bin/manageboot.sh"). */
  path: string;
  src: string;
  mode: number;
}

export const isInitramfsFile = (path: string): boolean => INITRAMFS_PREFIXES.some((p) => path.startsWith(p));

/** Every file the OS's components install, sorted by image path; two components may not install the same path. */
export async function componentFiles(os: OsDefinition): Promise<ComponentFile[]> {
  const byPath = new Map<string, ComponentFile>();
  for (const component of os.components) {
    const dir = join(IC_OS_DIR, "components", component);
    for (const e of await listTree(dir)) {
      if (e.path === "README.md" || e.stat.isDirectory()) continue; // the README documents, it is not installed
      if (!e.stat.isFile()) throw new UserError(`component ${component}: ${e.path} is not a regular file or directory (components hold files only)`);
      const other = byPath.get(e.path);
      if (other) throw new UserError(`components ${other.component} and ${component} both install /${e.path}`, "each file of the image belongs to one component");
      byPath.set(e.path, { component, path: e.path, src: e.abs, mode: e.stat.mode & 0o111 ? 0o755 : 0o644 });
    }
  }
  return [...byPath.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/** What the lay-in step depends on: each file's path, mode and content, the units and the modes. */
export async function componentsDigest(os: OsDefinition): Promise<string> {
  const files = await Promise.all((await componentFiles(os)).map(async (f) => [f.path, f.mode, sha256(await readFile(f.src))]));
  return digestOf({ files, enableUnits: os.enableUnits, maskUnits: os.maskUnits, fileModes: os.fileModes });
}

/** Make `dir` (under `tree`) and its missing parents: new directories 0755 root:root, existing ones untouched. */
async function mkdirs(tree: string, dir: string): Promise<void> {
  if (dir === "." || dir === "") return;
  const abs = join(tree, dir);
  const st = await lstat(abs).catch(() => undefined);
  if (st?.isDirectory()) return;
  if (st) throw new UserError(`lay in components: /${dir} is not a directory in the image`);
  await mkdirs(tree, dirname(dir));
  await mkdir(abs);
  await chmod(abs, 0o755);
  await lchown(abs, 0, 0);
}

/** Lay the components into `tree` (the image's root), then apply fileModes, enable and mask the units. */
export async function layInComponents(tree: string, os: OsDefinition): Promise<void> {
  for (const f of await componentFiles(os)) {
    await mkdirs(tree, dirname(f.path));
    const dest = join(tree, f.path);
    const st = await lstat(dest).catch(() => undefined);
    if (st?.isDirectory()) throw new UserError(`component ${f.component}: /${f.path} is a directory in the image`);
    if (st) await rm(dest); // never write through a symlink the image has there
    await copyFile(f.src, dest);
    await chmod(dest, f.mode);
    await lchown(dest, 0, 0);
  }
  for (const [path, mode] of Object.entries(os.fileModes).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const st = await lstat(join(tree, path)).catch(() => undefined);
    if (!st?.isFile() && !st?.isDirectory()) throw new UserError(`${os.file}: fileModes: ${path} is not a file or directory in the image`);
    await chmod(join(tree, path), parseInt(mode, 8));
  }
  if (os.enableUnits.length) {
    await run("systemctl", ["--root", tree, "--quiet", "enable", ...os.enableUnits], { context: `${os.file}: enableUnits` });
  }
  if (os.maskUnits.length) {
    await run("systemctl", ["--root", tree, "--quiet", "mask", ...os.maskUnits], { context: `${os.file}: maskUnits` });
  }
}

/** The Dockerfile's part of the components: their initramfs-tools files, at their image paths under `dest`. */
export async function copyInitramfsFiles(os: OsDefinition, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  for (const f of await componentFiles(os)) {
    if (!isInitramfsFile(f.path)) continue;
    await mkdir(dirname(join(dest, f.path)), { recursive: true });
    await copyFile(f.src, join(dest, f.path));
  }
}
