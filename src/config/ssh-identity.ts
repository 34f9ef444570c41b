// Which of the user's ssh keys opens a VM: the CONFIG media it was booted with lists each
// account's public keys (accounts_ssh_authorized_keys/<account>); the private key to use is the
// one whose public half (KEY.pub beside it) is among them. `icos ssh`, `status` and `rollback` on
// a VM use this when no -i is given, so the README's `ssh-keygen -f id_admin` key is found.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { vfatReadFile } from "../image/vfat.ts";
import { KEY_LINE, SSH_KEYS_DIR } from "./media.ts";

/** "type base64" of each key line in `text` (comments and options dropped). */
export function keyBlobs(text: string): string[] {
  const blobs: string[] = [];
  for (const line of text.split("\n")) {
    const m = KEY_LINE.exec(line.replace(/\r$/, ""));
    if (m) blobs.push(`${m[1]} ${m[2]}`);
  }
  return blobs;
}

/** The public keys the CONFIG media `media` gives `account`; [] when it gives none (or is not readable as one). */
export async function mediaKeys(media: string, account: string): Promise<string[]> {
  try {
    return keyBlobs((await vfatReadFile(media, 0, `${SSH_KEYS_DIR}/${account}`)).toString("utf8"));
  } catch {
    return [];
  }
}

/** Where a matching private key is looked for: beside the media, the current directory, ~/.ssh. */
export function keySearchDirs(media: string | undefined, cwd = process.cwd(), home = homedir()): string[] {
  const dirs = [...(media ? [dirname(resolve(media))] : []), resolve(cwd), join(home, ".ssh")];
  return [...new Set(dirs)];
}

/** The first private key in `dirs` (in order, names sorted) whose FILE.pub holds one of `keys`. */
export function matchingPrivateKey(keys: readonly string[], dirs: readonly string[]): string | undefined {
  if (keys.length === 0) return undefined;
  const wanted = new Set(keys);
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const pub of names.filter((n) => n.endsWith(".pub"))) {
      const key = join(dir, pub.slice(0, -".pub".length));
      try {
        // A .pub is one line; a large file named .pub is not a public key.
        if (!existsSync(key) || !statSync(key).isFile() || statSync(join(dir, pub)).size > 16_384) continue;
        if (keyBlobs(readFileSync(join(dir, pub), "utf8")).some((b) => wanted.has(b))) return key;
      } catch {
        // unreadable: not ours to use
      }
    }
  }
  return undefined;
}
