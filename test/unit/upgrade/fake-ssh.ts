// A fake `ssh` for `icos upgrade` tests without a device: a small sh script put first on PATH. It
// logs every argv, passes `ssh -G` (configuration only, no connection) to the real ssh, and runs
// a piece of shell for the remote command: `status`, `install` or `commit`. No network.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeUpdateImage } from "../../../src/image/update-image.ts";
import { argvCalls } from "../../helpers/device-ssh.ts";

export const BOOT_ID_1 = "0d6a5c1e-6f3b-4c1a-9d7e-1234567890ab";

/** manageboot's status for a device on slot A running 1.0.0, as the fake prints it ($BOOT: the boot id, if set). */
export const STATUS_A = `printf '%s\\n' "\${BOOT:-${BOOT_ID_1}}" current=A target=B boot_alternative=A boot_cycle=stable next=A version=1.0.0 version_A=1.0.0 version_B=none`;

export interface FakeSsh {
  /** Environment for icos: the fake first on PATH. */
  env: Record<string, string>;
  dir: string;
  /** Every call's argv (without `ssh -G`), in order. */
  calls(): string[][];
}

const REAL_SSH = spawnSync("sh", ["-c", "command -v ssh"], { encoding: "utf8" }).stdout.trim() || "/usr/bin/ssh";

/**
 * `sh` snippets for each remote command; in them $KH is the UserKnownHostsFile given (if any),
 * $STRICT the StrictHostKeyChecking value and $DIR the fake's directory. Default for each: exit 255
 * with "Connection refused".
 */
export function fakeSsh(dir: string, scripts: { status?: string; install?: string; commit?: string }): FakeSsh {
  const bin = join(dir, "fake-bin");
  mkdirSync(bin, { recursive: true });
  const refused = 'echo "ssh: connect to host 127.0.0.1 port 22: Connection refused" >&2; exit 255';
  writeFileSync(
    join(bin, "ssh"),
    `#!/bin/sh
[ "$1" = -G ] && exec ${REAL_SSH} "$@"
DIR=${dir}
for a; do printf '%s\\n' "$a"; done >> "$DIR/argv"
echo --- >> "$DIR/argv"
KH= STRICT=
for a; do
  case "$a" in
    UserKnownHostsFile=*) KH=\${a#UserKnownHostsFile=} ;;
    StrictHostKeyChecking=*) STRICT=\${a#StrictHostKeyChecking=} ;;
  esac
  cmd=$a
done
case "$cmd" in
  *" status") ${scripts.status ?? refused} ;;
  *" upgrade-install "*) ${scripts.install ?? refused} ;;
  *" upgrade-commit") ${scripts.commit ?? refused} ;;
  *) echo "fake ssh: unexpected command: $cmd" >&2; exit 99 ;;
esac
`,
  );
  chmodSync(join(bin, "ssh"), 0o755);
  return {
    env: { PATH: `${bin}:${process.env.PATH}` },
    dir,
    calls: () => argvCalls(join(dir, "argv")),
  };
}

/** The value of `-o NAME=value` in an ssh argv (undefined when not given). */
export function sshOption(argv: string[], name: string): string | undefined {
  const opt = argv.find((a, i) => argv[i - 1] === "-o" && a.startsWith(`${name}=`));
  return opt?.slice(name.length + 1);
}

/** A tiny update image (4 KiB members) for `version`. */
export async function tinyUpdateImage(dir: string, version: string): Promise<string> {
  writeFileSync(join(dir, "boot.img"), Buffer.alloc(4096, 1));
  writeFileSync(join(dir, "root.img"), Buffer.alloc(4096, 2));
  const file = join(dir, "update-img.tar.zst");
  await writeUpdateImage({ out: file, version, bootImg: join(dir, "boot.img"), rootImg: join(dir, "root.img"), mtime: 0 });
  return file;
}
