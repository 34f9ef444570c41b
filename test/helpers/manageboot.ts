// A stand-in device for running manageboot.sh on the build host (test/unit/components/upgrade*.test.ts):
// regular files for the partitions, grubenv, version file, trusted keys and policy; and update
// images like the build makes.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { IC_OS_DIR } from "../../src/paths.ts";
import { decodeGrubenv, encodeGrubenv } from "../../src/formats/grubenv.ts";
import type { Slot } from "../../src/model/boot-cycle.ts";
import { buildExt4 } from "../../src/image/ext4.ts";
import { writeTar } from "../../src/image/tar.ts";
import { UPDATE_IMAGE_MEMBERS, writeUpdateImage } from "../../src/image/update-image.ts";

export const MANAGEBOOT = join(IC_OS_DIR, "components/upgrade/opt/ic/bin/manageboot.sh");
export const MIB = 1 << 20;
const SDE = 1_700_000_000;

export interface Device {
  dir: string;
  parts: string;
  grubenv: string;
  env: NodeJS.ProcessEnv;
  /** Run manageboot.sh as the slot `slot` (dfinity.system= on the fake kernel command line). */
  run(args: string[], o?: { slot?: Slot; input?: Buffer }): { code: number; stdout: string; stderr: string };
  part(name: string): Buffer;
  env_(): Map<string, string>;
}

export function device(dir: string, grubenv: Record<string, string> = { boot_alternative: "A", boot_cycle: "stable" }, o: { unsigned?: "allow" | "refuse"; target?: string } = {}): Device {
  const parts = join(dir, "parts");
  mkdirSync(parts, { recursive: true });
  // Old contents the install must overwrite (0x55) and a var whose start it must wipe (0xff).
  for (const s of ["A", "B"]) {
    writeFileSync(join(parts, `${s}_boot`), Buffer.alloc(8 * MIB, 0x55));
    writeFileSync(join(parts, `${s}_root`), Buffer.alloc(4 * MIB, 0x55));
    writeFileSync(join(parts, `${s}_var`), Buffer.alloc(20 * MIB, 0xff));
  }
  const file = join(dir, "grubenv");
  writeFileSync(file, encodeGrubenv(grubenv));
  writeFileSync(join(dir, "version.txt"), "1.0.0\n");
  // What the build writes into an image: trusted keys (none yet) and the unsigned policy (dev: allow).
  mkdirSync(join(dir, "keys"), { recursive: true });
  writeFileSync(join(dir, "policy"), `unsigned=${o.unsigned ?? "allow"}\n`);
  writeFileSync(join(dir, "target"), `${o.target ?? "guestos/dev"}\n`);
  const env = {
    ...process.env,
    MANAGEBOOT_PARTS: parts,
    MANAGEBOOT_GRUBENV: file,
    MANAGEBOOT_VERSION_FILE: join(dir, "version.txt"),
    MANAGEBOOT_STAGE: join(dir, "stage"),
    MANAGEBOOT_LOCK: join(dir, "lock"),
    MANAGEBOOT_KEYS: join(dir, "keys"),
    MANAGEBOOT_POLICY: join(dir, "policy"),
    MANAGEBOOT_TARGET: join(dir, "target"),
    ICOS_CONSOLE: join(dir, "console"),
    MANAGEBOOT_REBOOT: `touch ${join(dir, "rebooted")}`,
    PATH: `/usr/sbin:/sbin:${process.env.PATH}`,
  };
  return {
    dir,
    parts,
    grubenv: file,
    env,
    run(args, o = {}) {
      writeFileSync(join(dir, "cmdline"), `BOOT_IMAGE=/vmlinuz root=PARTUUID=x dfinity.system=${o.slot ?? "A"} console=ttyS0\n`);
      const r = spawnSync(MANAGEBOOT, args, { env: { ...env, MANAGEBOOT_CMDLINE: join(dir, "cmdline") }, input: o.input, encoding: "utf8" });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    part: (name) => readFileSync(join(parts, name)),
    env_: () => decodeGrubenv(readFileSync(file)),
  };
}

export interface UpdateImage {
  file: string;
  sha256: string;
  boot: Buffer;
  root: Buffer;
}

/** An update-img.tar.zst like the build makes: an ext4 boot.img carrying version.txt, a sparse root.img. */
export async function updateImage(dir: string, version: string, o: { rootBytes?: number; omit?: (typeof UPDATE_IMAGE_MEMBERS)[number] } = {}): Promise<UpdateImage> {
  const work = join(dir, `update-${version}`);
  mkdirSync(join(work, "tree"), { recursive: true });
  writeFileSync(join(work, "tree/version.txt"), version + "\n");
  await buildExt4({ tree: join(work, "tree"), out: join(work, "boot.img"), sizeBytes: 4 * MIB, label: "boot", uuid: "0b0b0b0b-0000-4000-8000-000000000001", sourceDateEpoch: SDE, blockSize: 1024 });
  // Data, a long zero run (stored as a hole), data: the device must write the zeros too.
  const root = Buffer.alloc(o.rootBytes ?? 3 * MIB);
  randomBytes(4096).copy(root, 0);
  randomBytes(4096).copy(root, root.length - 4096);
  writeFileSync(join(work, "root.img"), root);
  const file = join(dir, `update-img-${version}.tar.zst`);
  const images = { out: file, version, bootImg: join(work, "boot.img"), rootImg: join(work, "root.img"), mtime: SDE };
  if (o.omit) {
    // Not an update image: the same tar with one member left out.
    writeFileSync(join(work, "VERSION.TXT"), version + "\n");
    const entries = UPDATE_IMAGE_MEMBERS.filter((n) => n !== o.omit).map((n) => ({ path: n, type: "file" as const, source: join(work, n) }));
    await writeTar({ out: file, entries, mtime: SDE, compress: "zstd", sparse: true });
  } else await writeUpdateImage(images);
  const sha256 = createHash("sha256").update(readFileSync(file)).digest("hex");
  return { file, sha256, boot: readFileSync(join(work, "boot.img")), root };
}

