// `icos upgrade`: from the build host, over ssh, drive manageboot.sh on a device through an A/B
// upgrade: install the update image into the other slot, commit, then wait until the device
// is back on that slot, confirmed, running the image's version. A device that comes back on the
// old slot rolled the upgrade back (the new system never confirmed), and that is a failure.
// The device's host key is checked strictly throughout (ssh.ts), and every ssh step is
// time-limited, so a device that is reachable but stuck cannot hold icos forever.
import { run } from "../exec.ts";
import { ToolFailedError, UserError } from "../errors.ts";
import { sha256File } from "../fs/hash.ts";
import { existsSync } from "node:fs";
import { readSignature } from "../image/update-signature.ts";
import { hostKeyProblem, knownHostsName, SshSession, type HostKeyProblem, type SshResult, type SshTarget } from "./ssh.ts";

export const MANAGEBOOT = "/opt/ic/bin/manageboot.sh";
const POLL_MS = 3000;
/** `manageboot.sh status` answers at once; a device that does not is not "booting". */
const STATUS_TIMEOUT_MS = 30_000;
/** upgrade-install: no progress line and no image bytes taken for this long means stuck. */
export const INSTALL_STALL_MS = 600_000;
/** upgrade-install in all: at least this, or 1 s per MiB the device unpacks, writes and reads back. */
export const INSTALL_TIMEOUT_MIN_MS = 1_800_000;
/** upgrade-commit rewrites one grubenv block and asks for a reboot. */
export const COMMIT_TIMEOUT_MS = 120_000;

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

/** The bytes the device unpacks from an update image (sizes as tar lists them: a sparse member's full size). */
export async function updateImageBytes(image: string): Promise<number> {
  const r = await run("tar", ["--zstd", "-tvf", image], { context: `listing ${image}` });
  return r.stdout.split("\n").filter(Boolean).reduce((sum, l) => sum + (Number(l.trim().split(/\s+/)[2]) || 0), 0);
}

/** upgrade-install's overall bound without --install-timeout: INSTALL_TIMEOUT_MIN_MS, or 1 s per MiB unpacked. */
export function defaultInstallTimeoutMs(unpackedBytes: number): number {
  return Math.max(INSTALL_TIMEOUT_MIN_MS, Math.ceil(unpackedBytes / 1048576) * 1000);
}

/** The device's host key could not be checked before anything was done. Exit 2: the user's known_hosts (or choice of flag) decides. */
export class HostKeyError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = "HostKeyError";
  }
}

/** What the host key was checked against, in words. */
async function checkedAgainst(session: SshSession): Promise<string> {
  const check = session.hostKeys;
  if (check === "trust-on-first-use") {
    return `the key pinned when icos first connected (--trust-on-first-use${(await session.pinnedFingerprint().then((f) => (f ? `: ${f}` : ""), () => ""))})`;
  }
  return (await session.knownHostsFiles()).join(" or ");
}

/** The key the device presented (if ssh said), then ssh's lines about the host key (its MITM banner is long). */
function hostKeyLines(stderr: string): string {
  const text = stderr.replace(/\r/g, "");
  const keep = text.split("\n").filter((l) => /Offending|host key is known|has changed and you have|verification failed/i.test(l));
  const fp = /fingerprint for the (\S+) key sent by the remote host is\s*\n\s*(\S+?)\.?\s*$/m.exec(text);
  return [...(fp ? [`the device presented ${fp[1]} ${fp[2]}`] : []), ...keep.map((l) => `ssh: ${l}`)].join("\n");
}

/** The error for a host key ssh refused before the upgrade changed anything. */
export async function hostKeyError(session: SshSession, problem: HostKeyProblem, stderr: string): Promise<HostKeyError> {
  const { host, port } = session.target;
  const name = knownHostsName(host, port);
  const files = await checkedAgainst(session);
  const check = session.hostKeys;
  const addTo = typeof check === "object" ? check.knownHosts : (await session.knownHostsFiles())[0]!;
  const offending = /Offending \S+ key in (\S+)/.exec(stderr)?.[1];
  const said = hostKeyLines(stderr);
  const others = typeof check === "object" ? "--trust-on-first-use, or another --known-hosts FILE" : check === "user-known-hosts" ? "--known-hosts FILE, or --trust-on-first-use (which accepts whatever key answers first)" : "";
  const detail = said ? `\n  ${said.split("\n").join("\n  ")}` : "";
  if (problem === "unknown") {
    return new HostKeyError(
      `ssh host key check failed for ${session.where}: ${name} is not in ${files} (strict checking); nothing was done${detail}`,
      `check the key's fingerprint on the device's console (IC-OS: ssh-keygen -lf /boot/config/ssh/etc/ssh/ssh_host_ed25519_key.pub) ` +
        `against \`ssh-keyscan -p ${port} ${host} | ssh-keygen -lf -\`, then add it: \`ssh-keyscan -p ${port} ${host} >> ${addTo}\`` +
        (others ? `; or pass ${others}` : ""),
    );
  }
  if (problem === "changed") {
    return new HostKeyError(
      `ssh host key check failed for ${session.where}: its key does not match the one for ${name} in ${offending ?? files}; ` +
        `another machine may be answering at that address; nothing was done${detail}`,
      `if the device was really given a new key (reinstalled), check the new one on its console, remove the old one ` +
        `(\`ssh-keygen -R '${name}' -f ${offending?.replace(/:\d+$/, "") ?? addTo}\`) and add the new one`,
    );
  }
  return new HostKeyError(`ssh host key check failed for ${session.where} (${name}, checked against ${files}); nothing was done${detail}`);
}

export interface UpgradeOptions {
  image: string;
  ssh: SshTarget;
  /** For the reboot: from commit until the new system has confirmed itself. */
  timeoutMs: number;
  /** upgrade-install in all (default: defaultInstallTimeoutMs of the image). */
  installTimeoutMs?: number;
  /** upgrade-install: no progress line and no image bytes taken for this long (default INSTALL_STALL_MS). */
  installStallMs?: number;
  /** upgrade-commit (default COMMIT_TIMEOUT_MS). */
  commitTimeoutMs?: number;
  /** Let the device install a version older than the one it runs. */
  allowDowngrade?: boolean;
  onProgress?: (line: string) => void;
  /** What the user must see even with --json (trust on first use). */
  onWarning?: (line: string) => void;
}

type StateError = { error: string; hostKey?: HostKeyProblem; stderr: string };

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

export async function upgrade(o: UpgradeOptions): Promise<UpgradeResult> {
  const say = o.onProgress ?? (() => undefined);
  const version = await updateImageVersion(o.image);
  const sha256 = await sha256File(o.image);
  const installMs = o.installTimeoutMs ?? defaultInstallTimeoutMs(await updateImageBytes(o.image));
  const stallMs = o.installStallMs ?? INSTALL_STALL_MS;
  const commitMs = o.commitTimeoutMs ?? COMMIT_TIMEOUT_MS;
  const session = new SshSession(o.ssh);
  const device = session.where;
  const fail = (summary: string, detail = "") => new UpgradeError(device, summary, detail);
  const sudo = (args: string) => `sudo -n ${MANAGEBOOT} ${args}`;
  const fromDevice = (line: string) => say(`device: ${line.replace(/^manageboot: /, "")}`);
  const tail = (r: SshResult) => r.stderr.replace(/\r/g, "").trimEnd().split("\n").slice(-5).join("\n");
  const state = async (): Promise<DeviceState | StateError> => {
    const r = await session.exec(`cat /proc/sys/kernel/random/boot_id && ${sudo("status")}`, { timeoutMs: STATUS_TIMEOUT_MS });
    if (r.timedOut) return { error: `no answer within ${seconds(STATUS_TIMEOUT_MS)}`, stderr: r.stderr };
    if (r.code !== 0) return { error: r.stderr.replace(/\r/g, "").trim() || `exit ${r.code}`, hostKey: r.code === 255 ? hostKeyProblem(r.stderr) : undefined, stderr: r.stderr };
    try {
      return parseDeviceState(r.stdout);
    } catch (e) {
      return { error: (e as Error).message, stderr: r.stderr }; // a device without manageboot, or another one: not our bug
    }
  };
  try {
    const before = await state();
    if (session.hostKeys === "trust-on-first-use") {
      const fingerprint = await session.pinnedFingerprint();
      if (fingerprint) {
        o.onWarning?.(
          `warning: --trust-on-first-use: accepted the ssh host key of ${knownHostsName(o.ssh.host, o.ssh.port)} without checking it against any known_hosts: ${fingerprint}; ` +
            "it is required for the rest of this command",
        );
      }
    }
    if ("error" in before) {
      if (before.hostKey) throw await hostKeyError(session, before.hostKey, before.stderr);
      throw fail("cannot read the device's boot state over ssh", before.error);
    }
    say(`device runs version ${before.version} on slot ${before.current} (boot_cycle ${before.boot_cycle}); installing ${version} into slot ${before.target}`);
    const signature = await readSignature(o.image);
    say(signature ? `the image is signed by key ${signature.key.slice(0, 16)}; the device checks it against the keys it trusts` : "the image is not signed: only an image that allows unsigned upgrades (dev) installs it");

    const t0 = Date.now();
    const install = await session.exec(sudo(`upgrade-install - ${sha256}${o.allowDowngrade ? " --allow-downgrade" : ""}`), { stdinFile: o.image, onStderr: fromDevice, idleMs: stallMs, timeoutMs: installMs });
    if (install.timedOut === "idle") {
      throw fail(`upgrade-install timed out: no progress from the device and no image bytes taken for ${seconds(stallMs)} (--stall-timeout); ssh was stopped, the running system is unchanged`, tail(install));
    }
    if (install.timedOut === "total") {
      throw fail(`upgrade-install timed out: not finished within ${seconds(installMs)} (--install-timeout); ssh was stopped, the running system is unchanged`, tail(install));
    }
    if (install.code !== 0) {
      // ssh refused the host key before anything was sent: say so, not "the device failed".
      const problem = install.code === 255 ? hostKeyProblem(install.stderr) : undefined;
      if (problem) throw await hostKeyError(session, problem, install.stderr);
      throw fail(`upgrade-install failed (exit ${install.code}); the running system is unchanged`, tail(install));
    }
    const commit = await session.exec(sudo("upgrade-commit"), { onStderr: fromDevice, timeoutMs: commitMs });
    // The device reboots right after committing; ssh may see the connection drop (255) or hang until killed.
    if (commit.code !== 0 && !/committed/.test(commit.stderr)) {
      if (commit.timedOut) {
        throw fail(
          `upgrade-commit timed out: no answer within ${seconds(commitMs)}; ssh was stopped. The device did not say it committed: ` +
            `\`sudo ${MANAGEBOOT} status\` on it shows boot_alternative=${before.target} if it will boot slot ${before.target} next`,
          tail(commit),
        );
      }
      if (commit.code === 255 && hostKeyProblem(commit.stderr)) {
        throw fail(
          `the device's ssh host key changed before upgrade-commit: ${knownHostsName(o.ssh.host, o.ssh.port)} no longer matches ${await checkedAgainst(session)}; ` +
            `slot ${before.target} is installed but not committed, the running system is unchanged`,
          hostKeyLines(commit.stderr),
        );
      }
      throw fail(`upgrade-commit failed (exit ${commit.code})`, commit.stderr);
    }
    const installed = Date.now();

    say(`waiting for slot ${before.target} to boot and confirm itself`);
    let last = "";
    for (;;) {
      if (Date.now() - installed > o.timeoutMs) throw fail(`slot ${before.target} did not come up confirmed within ${Math.round(o.timeoutMs / 1000)} s`, last);
      await new Promise((r) => setTimeout(r, POLL_MS));
      const now = await state();
      if ("error" in now) {
        // A changed host key is not "still booting": the device lost its identity, or another machine answers.
        if (now.hostKey) {
          throw fail(`the device's ssh host key changed across the upgrade: ${knownHostsName(o.ssh.host, o.ssh.port)} no longer matches ${await checkedAgainst(session)}`, hostKeyLines(now.stderr) || now.error);
        }
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
