// Moving pinned bases between machines: `podman save` as an OCI archive keeps the image config
// byte for byte, so the loaded image has the same ID the lock file pins.
import { existsSync, mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import { UserError } from "../errors.ts";
import type { OsDefinition } from "../model/os.ts";
import { loadOsNamed } from "../model/target.ts";
import { readLock } from "./base-lock.ts";
import { imageExists, podman } from "./podman.ts";

export async function exportBases(os: OsDefinition, outDir: string): Promise<string[]> {
  const lock = readLock(os);
  if (Object.keys(lock).length === 0) throw new UserError(`${os.name}: nothing pinned in base.lock.json`, `run \`icos base update ${os.name}\``);
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  for (const [flavour, pin] of Object.entries(lock)) {
    if (!(await imageExists(pin.image))) throw new UserError(`${os.name}/${flavour}: pinned image ${pin.image} is not in local storage`);
    const file = join(outDir, `${os.name}-base-${flavour}.oci.tar`);
    await podman(["save", "--format", "oci-archive", "-o", file, pin.image], { context: `podman save (${os.name}/${flavour})` });
    files.push(file);
  }
  return files;
}

/** Load an exported base; returns "<os>/<flavour>: <image>" once its ID matches the pin. */
export async function importBase(file: string): Promise<string> {
  if (!existsSync(file)) throw new UserError(`${file}: no such file`);
  const m = /^(.+)-base-([a-z0-9-]+)\.oci\.tar$/.exec(basename(file));
  if (!m) throw new UserError(`${file}: expected a name like guestos-base-dev.oci.tar (from icos base export)`);
  const os = loadOsNamed(m[1]!, { context: file });
  const pin = readLock(os)[m[2]!];
  if (!pin) throw new UserError(`${file}: ${os.name} has no pin for flavour ${m[2]} in base.lock.json`);
  const { stdout } = await podman(["load", "-q", "-i", file], { context: `podman load ${file}` });
  if (!(await imageExists(pin.image))) {
    throw new UserError(`${file}: loaded ${stdout.trim()}, but ${os.name}/${m[2]} is pinned to ${pin.image}`, "export and import from the same lock file");
  }
  await podman(["tag", pin.image, `localhost/icos/${os.name}-base:${m[2]}`]);
  return `${os.name}/${m[2]}: ${pin.image}`;
}
