// A fake `ssh`, first on PATH, that is a whole device: it runs the remote command on the host
// with the real manageboot.sh against a stand-in device (test/helpers/manageboot.ts). The kernel's
// boot id and command line are files; manageboot's reboot marks the device rebooting, and the next
// ssh call first boots it: GRUB's step from the boot protocol table (ic-os/bootloader/boot-cycle.json),
// a new boot id, the slot's version as the running one, and the booted slot confirming itself
// unless it is listed in `unhealthy` (then it reboots again, and GRUB's table takes it back).
// Every argv is logged. No network, no sshd.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { loadBootCycleTable } from "../../src/model/boot-cycle.ts";
import { MANAGEBOOT as REMOTE_MANAGEBOOT } from "../../src/upgrade/upgrade.ts";
import { MANAGEBOOT, type Device } from "./manageboot.ts";

const REAL_SSH = spawnSync("sh", ["-c", "command -v ssh"], { encoding: "utf8" }).stdout.trim() || "/usr/bin/ssh";
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The argv of each call a fake ssh logged: one argument per line, "---" after each call. */
export function argvCalls(log: string): string[][] {
  if (!existsSync(log)) return [];
  const calls: string[][] = [[]];
  for (const l of readFileSync(log, "utf8").split("\n").slice(0, -1)) {
    if (l === "---") calls.push([]);
    else calls[calls.length - 1]!.push(l);
  }
  return calls.slice(0, -1);
}

export interface DeviceSsh {
  /** Environment for icos: the fake first on PATH. */
  env: Record<string, string>;
  /** Every call's argv (without `ssh -G`), in order. */
  calls(): string[][];
  /** The slot the device runs now. */
  running(): string;
  /** Make `slot` fail its health check from now on (it never confirms). */
  unhealthy(slot: "A" | "B"): void;
}

export function deviceSsh(dev: Device, running: "A" | "B"): DeviceSsh {
  const dir = join(dev.dir, "ssh");
  mkdirSync(join(dir, "bin"), { recursive: true });
  const cmdline = join(dir, "cmdline");
  const bootCmdline = (slot: string) => `BOOT_IMAGE=/vmlinuz root=PARTUUID=x dfinity.system=${slot} console=ttyS0`;
  writeFileSync(cmdline, bootCmdline(running) + "\n");
  writeFileSync(join(dir, "boot_id"), "11111111-2222-4333-8444-555555555555\n");
  writeFileSync(join(dir, "unhealthy"), "");
  const vars = ["ICOS_CONTRACT", "ICOS_LIB", "MANAGEBOOT_GRUBENV", "MANAGEBOOT_STAGE", "MANAGEBOOT_LOCK", "ICOS_CONSOLE", "PATH"];
  const env = [
    ...vars.map((k) => `export ${k}=${q(dev.env[k]!)}`),
    `export MANAGEBOOT_CMDLINE=${q(cmdline)}`,
    `export MANAGEBOOT_REBOOT=${q(`touch ${join(dir, "rebooting")}`)}`,
  ].join("\n");
  writeFileSync(join(dir, "env.sh"), env + "\n");
  // GRUB's step, one case per row of the table; an unknown cycle boots the current slot as the default.
  const table = loadBootCycleTable();
  const cases = table.transitions
    .map((t) => `  ${t.boot_cycle}) slot=${t.slot === "other" ? "$(other $alt)" : "$alt"}; cycle=${t.then} ;;`)
    .join("\n");
  writeFileSync(
    join(dir, "boot.sh"),
    `#!/bin/sh
set -eu
. ${q(join(dir, "env.sh"))}
other() { if [ "$1" = A ]; then echo B; else echo A; fi; }
while [ -e ${q(join(dir, "rebooting"))} ]; do
  rm -f ${q(join(dir, "rebooting"))}
  alt=$(grub-editenv "$MANAGEBOOT_GRUBENV" list | sed -n 's/^boot_alternative=//p')
  cyc=$(grub-editenv "$MANAGEBOOT_GRUBENV" list | sed -n 's/^boot_cycle=//p')
  case "$cyc" in
${cases}
  *) slot=$alt; cycle=${table.default.boot_cycle} ;;
  esac
  grub-editenv "$MANAGEBOOT_GRUBENV" set boot_alternative="$slot" boot_cycle="$cycle"
  echo "BOOT_IMAGE=/vmlinuz root=PARTUUID=x dfinity.system=$slot console=ttyS0" > "$MANAGEBOOT_CMDLINE"
  cat /proc/sys/kernel/random/uuid > ${q(join(dir, "boot_id"))}
  # The booted root's version is the one on the slot's boot partition.
  v=$(${q(MANAGEBOOT)} status | sed -n "s/^version_$slot=//p")
  . "$ICOS_CONTRACT"
  echo "$v" > "$ICOS_VERSION_FILE_ROOT"
  if grep -qx "$slot" ${q(join(dir, "unhealthy"))}; then
    touch ${q(join(dir, "rebooting"))}   # icos-confirm: unhealthy on its first boot -> reboot
  else
    ${q(MANAGEBOOT)} confirm 2>/dev/null || true
  fi
done
`,
  );
  writeFileSync(
    join(dir, "bin", "ssh"),
    `#!/bin/sh
[ "$1" = -G ] && exec ${REAL_SSH} "$@"
for a; do printf '%s\\n' "$a"; done >> ${q(join(dir, "argv"))}
echo --- >> ${q(join(dir, "argv"))}
for a; do cmd=$a; done
sh ${q(join(dir, "boot.sh"))}
. ${q(join(dir, "env.sh"))}
cmd=$(printf '%s' "$cmd" | sed "s#cat /proc/sys/kernel/random/boot_id#cat ${join(dir, "boot_id")}#; s#sudo -n ${REMOTE_MANAGEBOOT}#${MANAGEBOOT}#g")
exec sh -c "$cmd"
`,
  );
  chmodSync(join(dir, "bin", "ssh"), 0o755);
  return {
    env: { PATH: `${join(dir, "bin")}:${process.env.PATH}` },
    calls: () => argvCalls(join(dir, "argv")),
    running: () => /dfinity\.system=([AB])/.exec(readFileSync(cmdline, "utf8"))?.[1] ?? "?",
    unhealthy: (slot) => writeFileSync(join(dir, "unhealthy"), `${slot}\n`),
  };
}
