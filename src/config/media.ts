// The CONFIG media: the small vfat image HostOS attaches to the GuestOS VM as removable USB
// storage (ic-os-facts.md, "Configuration chain"); the GuestOS's bootstrap-ic-node copies it to
// /run/config. Everything is checked first and every problem reported at once; only then is the
// image written (atomically, same inputs -> same bytes).
import { mkdtemp, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ValidationError } from "../errors.ts";
import { buildVfat } from "../image/vfat.ts";
import { show } from "../model/data-file.ts";
import { CONFIG_VERSION, type NodeConfig } from "./schema.ts";
import { parseAnyVersion, sshKeysFlag } from "./versions.ts";

/** The accounts whose authorized_keys the media can carry (IC-OS's role accounts). */
export const SSH_ACCOUNTS = ["admin", "readonly", "backup"] as const;
export const SSH_KEYS_DIR = "accounts_ssh_authorized_keys";

/** Fixed so the same inputs give the same bytes. */
export const CONFIG_MEDIA = {
  label: "CONFIG",
  sizeBytes: 16 * 2 ** 20,
  volumeId: "1CE5C0F1",
  /** 2000-01-01T00:00:00Z: every file and directory time on the media. */
  sourceDateEpoch: 946684800,
} as const;

export const README_TEXT = `IC-OS node configuration media written by icos: config.json (schema ${CONFIG_VERSION}) and ssh keys for the GuestOS; see docs/config.md.\n`;

export interface ConfigMediaOptions {
  /** The config as read from its file (any known version), or an already typed NodeConfig. */
  config: unknown;
  /** Where the config came from, for messages. */
  configFile: string;
  /** A directory holding admin, readonly, backup (each optional but admin). */
  sshKeysDir?: string;
  out: string;
}

export interface ConfigMediaResult {
  config: NodeConfig;
  /** The config_version of the input (before migration). */
  fromVersion: string;
  /** The files on the media, '/'-separated, sorted bytewise (the order they are written in). */
  files: string[];
}

/** Every key sorted (bytewise, recursively), as `jq -S` would print it. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v !== "object" || v === null) return v;
  const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return Object.fromEntries(keys.map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
}

/** config.json as written on the media: keys sorted, 2-space indent, a final newline. */
export function configJson(config: NodeConfig): string {
  return JSON.stringify(sortKeys(config), null, 2) + "\n";
}

const KEY_TYPES = [
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
];
const KEY_LINE = /^(\S+)\s+(AAAA[A-Za-z0-9+/]+={0,2})(?:\s+.*)?$/;
const KEY_WHAT = `an OpenSSH public key like "ssh-ed25519 AAAA... comment"`;
const clip = (s: string): string => show(s.length > 60 ? `${s.slice(0, 57)}...` : s);

/** The problems of one authorized_keys line, or undefined if it is a key. */
function keyLineProblem(line: string): string | undefined {
  if (line.endsWith("\r")) return "ends in a carriage return (Windows line ending); use \\n only";
  const m = KEY_LINE.exec(line.trim());
  if (!m) return `expected ${KEY_WHAT}, got ${clip(line)}`;
  const [, type, blob] = m as unknown as [string, string, string];
  if (!KEY_TYPES.includes(type)) return `expected a key type (${KEY_TYPES.join(", ")}), got ${show(type)}`;
  // The blob starts with its own type as an SSH string (uint32 length, bytes): a cheap check
  // that catches pasted halves of keys and keys under the wrong type.
  const bytes = Buffer.from(blob, "base64");
  const len = bytes.length >= 4 ? bytes.readUInt32BE(0) : -1;
  if (len < 0 || bytes.subarray(4, 4 + len).toString("latin1") !== type) return `the key data is not a ${type} key (truncated or mixed up?)`;
  return undefined;
}

interface KeyFile {
  account: string;
  bytes: Buffer;
}

/** Checks DIR/<account> files: known names only, regular, non-empty, every line a key or a comment. */
async function checkSshKeys(dir: string): Promise<{ problems: string[]; files: KeyFile[] }> {
  const problems: string[] = [];
  const files: KeyFile[] = [];
  const st = await stat(dir).catch(() => undefined);
  if (!st) return { problems: [`${dir}: no such directory (ssh keys)`], files };
  if (!st.isDirectory()) return { problems: [`${dir}: not a directory (ssh keys)`], files };
  const names = (await readdir(dir)).sort();
  for (const name of names) {
    const path = join(dir, name);
    if (!(SSH_ACCOUNTS as readonly string[]).includes(name)) {
      problems.push(`${path}: unknown file (valid names: ${SSH_ACCOUNTS.join(", ")})`);
      continue;
    }
    const fst = await stat(path).catch(() => undefined);
    if (!fst?.isFile()) {
      problems.push(`${path}: not a regular file`);
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (e) {
      problems.push(`${path}: cannot read: ${(e as Error).message}`);
      continue;
    }
    if (bytes.length === 0) {
      problems.push(`${path}: is empty`);
      continue;
    }
    let keys = 0;
    let bad = 0;
    bytes
      .toString("utf8")
      .split("\n")
      .forEach((line, i) => {
        if (line.trim() === "" || line.trimStart().startsWith("#")) return;
        const p = keyLineProblem(line);
        if (p === undefined) keys++;
        else {
          bad++;
          problems.push(`${path}:${i + 1}: ${p}`);
        }
      });
    if (keys === 0 && bad === 0) problems.push(`${path}: has no keys (only comments and blank lines)`);
    files.push({ account: name, bytes });
  }
  if (!names.includes("admin")) problems.push(`${join(dir, "admin")}: missing (the admin account's keys are required when ssh keys are given)`);
  return { problems, files };
}

/**
 * Validates the config (any known version, migrated to the current one), the ssh key files and
 * the output's directory, then writes the CONFIG vfat image. Throws one ValidationError naming
 * every problem, before anything is written.
 */
export async function writeConfigMedia(o: ConfigMediaOptions): Promise<ConfigMediaResult> {
  const parsed = parseAnyVersion(o.config);
  const problems = parsed.ok ? [] : [...parsed.problems];
  const flag = sshKeysFlag(o.config);
  if (flag.value === true && o.sshKeysDir === undefined) {
    problems.push(`${flag.path}: true, but no ssh keys directory was given (--ssh-keys DIR)`);
  }
  if (flag.value === false && o.sshKeysDir !== undefined) {
    problems.push(`${flag.path}: false, but ssh keys were given (${o.sshKeysDir}); set it to true or leave the keys out`);
  }
  const keys = o.sshKeysDir === undefined ? { problems: [], files: [] } : await checkSshKeys(o.sshKeysDir);
  problems.push(...keys.problems);
  const outDir = dirname(o.out);
  const outDirStat = await stat(outDir).catch(() => undefined);
  if (!outDirStat?.isDirectory()) problems.push(`${o.out}: the directory ${outDir} does not exist`);
  else if ((await stat(o.out).catch(() => undefined))?.isDirectory()) problems.push(`${o.out}: is a directory`);
  if (!parsed.ok || problems.length > 0) throw new ValidationError(o.configFile, problems, parsed.ok ? undefined : parsed.hint);

  const config = parsed.config;
  const stage = await mkdtemp(join(tmpdir(), "icos-config-media-"));
  try {
    const files = ["README.txt", "config.json"];
    await writeFile(join(stage, "README.txt"), README_TEXT);
    await writeFile(join(stage, "config.json"), configJson(config));
    if (keys.files.length > 0) {
      await mkdir(join(stage, SSH_KEYS_DIR));
      for (const k of keys.files) {
        await writeFile(join(stage, SSH_KEYS_DIR, k.account), k.bytes);
        files.push(`${SSH_KEYS_DIR}/${k.account}`);
      }
    }
    await buildVfat({ out: o.out, files: stage, ...CONFIG_MEDIA });
    files.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return { config, fromVersion: parsed.fromVersion, files };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
