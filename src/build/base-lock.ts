// The pinned bases of an OS: ic-os/<os>/base.lock.json maps each base flavour to the podman image
// ID it was pinned to and the digest of the inputs it was built from (bootstrap settings,
// Dockerfile.base, package lists). Builds use the pinned image; `icos base update` re-pins.
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { writeAtomically } from "../fs/files.ts";
import type { OsDefinition } from "../model/os.ts";

export interface BasePin {
  image: string;
  inputs: string;
}

export type BaseLock = Record<string, BasePin>;

export function lockFile(os: OsDefinition): string {
  return join(os.dir, "base.lock.json");
}

export function readLock(os: OsDefinition): BaseLock {
  const file = lockFile(os);
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, "utf8")) as BaseLock;
  } catch (e) {
    throw new UserError(`${file}: not valid JSON: ${(e as Error).message}`, `fix it or re-pin with \`icos base update ${os.name}\``);
  }
}

export async function writeLock(os: OsDefinition, lock: BaseLock): Promise<void> {
  const sorted = Object.fromEntries(Object.entries(lock).sort(([a], [b]) => a.localeCompare(b)));
  await writeAtomically(lockFile(os), (tmp) => writeFile(tmp, JSON.stringify(sorted, null, 2) + "\n"));
}
