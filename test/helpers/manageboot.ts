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
import { writeUpdateImage } from "../../src/image/update-image.ts";
import { loadBootCycleTable } from "../../src/model/boot-cycle.ts";
import { deviceContract, renderContractEnv, UPDATE_IMAGE_MEMBERS, type DeviceContract } from "../../src/model/device-contract.ts";
import { loadLayout, resolveLayout } from "../../src/model/layout.ts";

export const MANAGEBOOT = join(IC_OS_DIR, "components/upgrade/opt/ic/bin/manageboot.sh");
export const ICOS_LIB = join(IC_OS_DIR, "components/icos-lib/opt/ic/lib");

/**
 * GuestOS's real device contract (what the build writes into the image), with every device and
 * image path moved into `dir`: slot devices become the files in `parts` named like the partitions.
 */
export function standInContract(dir: string, parts: string): DeviceContract {
  const c = deviceContract(resolveLayout(loadLayout(join(IC_OS_DIR, "guestos", "layout.yaml"))), loadBootCycleTable());
  const move = <T extends { name: string; linux: string }>(d: T): T => ({ ...d, linux: join(parts, d.name) });
  const slots = Object.fromEntries(Object.entries(c.slots).map(([s, d]) => [s, { boot: move(d.boot), root: move(d.root), ...(d.var ? { var: move(d.var) } : {}) }]));
  return {
    ...c,
    ...(c.grub ? { grub: move(c.grub) } : {}),
    ...(c.config ? { config: move(c.config) } : {}),
    slots,
    versionFiles: { ...c.versionFiles, root: join(dir, "version.txt") } as DeviceContract["versionFiles"],
    upgradeTrust: { keysDir: join(dir, "keys"), policy: join(dir, "policy"), target: join(dir, "target") } as DeviceContract["upgradeTrust"],
  };
}
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
  writeFileSync(join(dir, "contract.env"), renderContractEnv(standInContract(dir, parts)));
  const env = {
    ...process.env,
    ICOS_CONTRACT: join(dir, "contract.env"),
    ICOS_LIB,
    MANAGEBOOT_GRUBENV: file,
    MANAGEBOOT_STAGE: join(dir, "stage"),
    MANAGEBOOT_LOCK: join(dir, "lock"),
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
export async function updateImage(dir: string, version: string, o: { rootBytes?: number; rootData?: number[]; omit?: (typeof UPDATE_IMAGE_MEMBERS)[number] } = {}): Promise<UpdateImage> {
  const work = join(dir, `update-${version}`);
  mkdirSync(join(work, "tree"), { recursive: true });
  writeFileSync(join(work, "tree/version.txt"), version + "\n");
  await buildExt4({ tree: join(work, "tree"), out: join(work, "boot.img"), sizeBytes: 4 * MIB, label: "boot", uuid: "0b0b0b0b-0000-4000-8000-000000000001", sourceDateEpoch: SDE, blockSize: 1024 });
  // Data, a long zero run (stored as a hole), data: the device must write the zeros too.
  const root = Buffer.alloc(o.rootBytes ?? 3 * MIB);
  for (const at of o.rootData ?? [0, root.length - 4096]) randomBytes(4096).copy(root, at);
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

