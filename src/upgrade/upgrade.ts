// `icos upgrade`: from the build host, over ssh, drive manageboot.sh on a device through an A/B
// upgrade: install the update image into the other slot, commit, then wait until the device
// is back on that slot, confirmed, running the image's version. A device that comes back on the
// old slot rolled the upgrade back (the new system never confirmed), and that is a failure.
import { run } from "../exec.ts";
import { ToolFailedError, UserError } from "../errors.ts";
import { sha256File } from "../build/digest.ts";
import { existsSync } from "node:fs";
import { SshSession, type SshTarget } from "./ssh.ts";

export const MANAGEBOOT = "/opt/ic/bin/manageboot.sh";
const POLL_MS = 3000;

/** What `manageboot.sh status` reports, plus the kernel's boot id (it changes on every boot). */
export interface DeviceState {
  bootId: string;
  current: string;
  target: string;
  boot_alternative: string;
  boot_cycle: string;
  next: string;
  version: string;
  version_A: string;
  version_B: string;
}

export interface UpgradeResult {
  device: string;
  from: { version: string; slot: string };
  to: { version: string; slot: string };
  sha256: string;
  /** Install (copy, check, write), then reboot until confirmed. */
  seconds: { install: number; reboot: number };
}

/** The upgrade did not end on the new version: refused, failed, rolled back or timed out. Exit 1. */
export class UpgradeError extends ToolFailedError {
  constructor(device: string, summary: string, detail = "") {
    super(`icos upgrade (${device})`, summary, detail);
    this.name = "UpgradeError";
    this.message = `upgrade of ${device}: ${summary}` + (detail ? `\n    ${detail.trim().split("\n").join("\n    ")}` : "");
  }
}

export function parseDeviceState(text: string): DeviceState {
  const [bootId = "", ...rest] = text.trim().split("\n");
  const fields = new Map(rest.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const));
  const need = ["current", "target", "boot_alternative", "boot_cycle", "next", "version", "version_A", "version_B"] as const;
  const missing = need.filter((k) => !fields.has(k));
  if (!/^[0-9a-f-]{36}$/.test(bootId) || missing.length) throw new Error(`unexpected status output (missing ${missing.join(", ") || "boot id"}):\n${text}`);
  return { bootId, ...(Object.fromEntries(need.map((k) => [k, fields.get(k)!])) as Omit<DeviceState, "bootId">) };
}

/** VERSION.TXT of an update-img.tar.zst (checks on the host that it is one). */
export async function updateImageVersion(image: string): Promise<string> {
  if (!existsSync(image)) throw new UserError(`--to ${image}: no such file`);
  const r = await run("tar", ["--zstd", "-xOf", image, "VERSION.TXT"], { allowFailure: true });
  const version = r.stdout.split("\n")[0]?.trim() ?? "";
  if (r.code !== 0 || !version) {
    throw new UserError(`--to ${image}: not an update image (no readable VERSION.TXT in it)`, "give an update-img.tar.zst or update-img-test.tar.zst from `icos build`");
  }
  return version;
}

export interface UpgradeOptions {
  image: string;
  ssh: SshTarget;
  /** For the reboot: from commit until the new system has confirmed itself. */
  timeoutMs: number;
  onProgress?: (line: string) => void;
}

export async function upgrade(o: UpgradeOptions): Promise<UpgradeResult> {
  const say = o.onProgress ?? (() => undefined);
  const version = await updateImageVersion(o.image);
  const sha256 = await sha256File(o.image);
  const session = new SshSession(o.ssh);
  const device = session.where;
  const fail = (summary: string, detail = "") => new UpgradeError(device, summary, detail);
  const sudo = (args: string) => `sudo -n ${MANAGEBOOT} ${args}`;
  const fromDevice = (line: string) => say(`device: ${line.replace(/^manageboot: /, "")}`);
  const state = async (): Promise<DeviceState | { error: string }> => {
    const r = await session.exec(`cat /proc/sys/kernel/random/boot_id && ${sudo("status")}`, { timeoutMs: 30_000 });
    if (r.code !== 0) return { error: r.stderr.trim() || `exit ${r.code}` };
    try {
      return parseDeviceState(r.stdout);
    } catch (e) {
      return { error: (e as Error).message }; // a device without manageboot, or another one: not our bug
    }
  };
  try {
    const before = await state();
    if ("error" in before) throw fail("cannot read the device's boot state over ssh", before.error);
    say(`device runs version ${before.version} on slot ${before.current} (boot_cycle ${before.boot_cycle}); installing ${version} into slot ${before.target}`);

    const t0 = Date.now();
    const install = await session.exec(sudo(`upgrade-install - ${sha256}`), { stdinFile: o.image, onStderr: fromDevice });
    if (install.code !== 0) throw fail(`upgrade-install failed (exit ${install.code}); the running system is unchanged`, install.stderr.split("\n").slice(-5).join("\n"));
    const commit = await session.exec(sudo("upgrade-commit"), { onStderr: fromDevice });
    // The device reboots right after committing; ssh may see the connection drop (255).
    if (commit.code !== 0 && !/committed/.test(commit.stderr)) throw fail(`upgrade-commit failed (exit ${commit.code})`, commit.stderr);
    const installed = Date.now();

    say(`waiting for slot ${before.target} to boot and confirm itself`);
    let last = "";
    for (;;) {
      if (Date.now() - installed > o.timeoutMs) throw fail(`slot ${before.target} did not come up confirmed within ${Math.round(o.timeoutMs / 1000)} s`, last);
      await new Promise((r) => setTimeout(r, POLL_MS));
      const now = await state();
      if ("error" in now) {
        // A changed host key is not "still booting": the device lost its identity.
        if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/.test(now.error)) throw fail("the device's ssh host key changed across the upgrade", now.error);
        last = now.error;
        continue;
      }
      if (now.bootId === before.bootId) continue; // not rebooted yet
      const seen = `slot ${now.current}, version ${now.version}, boot_cycle ${now.boot_cycle}`;
      if (seen !== last) say(`device is up: ${seen}`);
      last = seen;
      if (now.current === before.current && now.boot_cycle === "stable") {
        throw fail(`rolled back: slot ${before.target} (version ${version}) never confirmed, the device runs version ${now.version} on slot ${now.current} again`);
      }
      if (now.current !== before.target || now.boot_cycle !== "stable") continue;
      if (now.version !== version) throw fail(`slot ${now.current} runs version ${now.version}, but the update image says ${version}`);
      const done = Date.now();
      return {
        device,
        from: { version: before.version, slot: before.current },
        to: { version: now.version, slot: now.current },
        sha256,
        seconds: { install: (installed - t0) / 1000, reboot: (done - installed) / 1000 },
      };
    }
  } finally {
    session.close();
  }
}
