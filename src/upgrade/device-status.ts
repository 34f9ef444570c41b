// `icos status` and `icos rollback`: a device's A/B state over ssh (manageboot.sh status), and
// asking it to go back to its other slot (manageboot.sh rollback: that slot boots once and stays
// only if it confirms, as an upgrade does), then waiting until it is back, confirmed. The ssh
// session, its host key checks and time limits are those of `icos upgrade` (ssh.ts, upgrade.ts).
import { ToolFailedError } from "../errors.ts";
import { hostKeyProblem, knownHostsName, SshSession, type SshResult, type SshTarget } from "./ssh.ts";
import { hostKeyError, MANAGEBOOT, parseDeviceState, type DeviceState } from "./upgrade.ts";

const STATUS_TIMEOUT_MS = 30_000;
/** rollback rewrites one grubenv block and asks for a reboot. */
const ROLLBACK_TIMEOUT_MS = 120_000;
const POLL_MS = 3000;

/**
 * confirmed: the running slot is kept (stable). installed: confirmed, and the other slot holds an
 * upgrade not committed yet. on-trial: an upgrade's (or rollback's) first boot, not confirmed: the
 * next boot returns to the other slot unless it confirms. pending: the next boot runs the other
 * slot once (an upgrade or rollback committed, waiting for its reboot).
 */
export type SlotState = "confirmed" | "installed" | "on-trial" | "pending";

export interface DeviceStatus {
  device: string;
  bootId: string;
  slot: string;
  version: string;
  bootCycle: string;
  bootAlternative: string;
  next: string;
  confirmed: boolean;
  state: SlotState;
  /** Each slot's version, read from its boot partition ("none": no system there). */
  slots: Record<"A" | "B", { version: string }>;
}

/** A device answered but not as asked, or did not answer. Exit 1. */
export class DeviceError extends ToolFailedError {
  constructor(device: string, summary: string, detail = "") {
    super(`icos (${device})`, summary, detail);
    this.name = "DeviceError";
    this.message = `${device}: ${summary}` + (detail ? `\n    ${detail.trim().split("\n").join("\n    ")}` : "");
  }
}

export function slotState(s: DeviceState): SlotState {
  if (s.boot_alternative !== s.current) return "pending";
  if (s.boot_cycle === "stable") return "confirmed";
  if (s.boot_cycle === "install") return "installed";
  return "on-trial";
}

export function toStatus(device: string, s: DeviceState): DeviceStatus {
  const state = slotState(s);
  return {
    device,
    bootId: s.bootId,
    slot: s.current,
    version: s.version,
    bootCycle: s.boot_cycle,
    bootAlternative: s.boot_alternative,
    next: s.next,
    confirmed: state === "confirmed" || state === "installed",
    state,
    slots: { A: { version: s.version_A }, B: { version: s.version_B } },
  };
}

/** One line for a person: what runs, whether it is kept, what boots next. */
export function describeStatus(s: DeviceStatus): string {
  const other = s.slot === "A" ? "B" : "A";
  const otherVersion = s.slots[other as "A" | "B"].version;
  const what = {
    confirmed: "confirmed",
    installed: `confirmed; slot ${other} holds version ${otherVersion}, installed but not committed`,
    "on-trial": `not confirmed yet: unless it confirms, the next boot returns to slot ${other}`,
    pending: `the next boot runs slot ${s.bootAlternative} (version ${s.slots[s.bootAlternative as "A" | "B"]?.version ?? "?"}) once`,
  }[s.state];
  return `slot ${s.slot}, version ${s.version}, ${what}`;
}

const tail = (r: SshResult) => r.stderr.replace(/\r/g, "").trimEnd().split("\n").slice(-5).join("\n");
const sudo = (args: string) => `sudo -n ${MANAGEBOOT} ${args}`;

type Answer = { state: DeviceState } | { error: string; result: SshResult };

async function ask(session: SshSession): Promise<Answer> {
  const r = await session.exec(`cat /proc/sys/kernel/random/boot_id && ${sudo("status")}`, { timeoutMs: STATUS_TIMEOUT_MS });
  if (r.timedOut) return { error: `no answer within ${STATUS_TIMEOUT_MS / 1000} s`, result: r };
  if (r.code !== 0) return { error: tail(r) || `exit code ${r.code}`, result: r };
  try {
    return { state: parseDeviceState(r.stdout) };
  } catch (e) {
    return { error: `not the answer of manageboot.sh status (is this an IC-OS device?): ${(e as Error).message}`, result: r };
  }
}

/**
 * The first answer: a refused host key is the user's to fix (exit 2), anything else exit 1. A key
 * accepted on first use is said, with its fingerprint, even under --json.
 */
async function firstState(session: SshSession, warn: (line: string) => void): Promise<DeviceState> {
  const a = await ask(session);
  if (session.hostKeys === "trust-on-first-use") {
    const fingerprint = await session.pinnedFingerprint();
    const { host, port } = session.target;
    if (fingerprint) warn(`warning: --trust-on-first-use: accepted the ssh host key of ${knownHostsName(host, port)} without checking it against any known_hosts: ${fingerprint}`);
  }
  if ("state" in a) return a.state;
  const problem = a.result.code === 255 ? hostKeyProblem(a.result.stderr) : undefined;
  if (problem) throw await hostKeyError(session, problem, a.result.stderr);
  throw new DeviceError(session.where, "cannot read the device's boot state over ssh", a.error);
}

export async function deviceStatus(ssh: SshTarget, warn: (line: string) => void = (l) => console.error(l)): Promise<DeviceStatus> {
  const session = new SshSession(ssh);
  try {
    return toStatus(session.where, await firstState(session, warn));
  } finally {
    session.close();
  }
}

export interface RollbackOptions {
  ssh: SshTarget;
  /** Wait for the device to come back on the other slot, confirmed (else return once it reboots). */
  wait: boolean;
  timeoutMs: number;
  onProgress?: (line: string) => void;
  /** What the user must see even with --json (trust on first use). */
  onWarning?: (line: string) => void;
}

export interface RollbackResult {
  device: string;
  from: { slot: string; version: string };
  to: { slot: string; version: string };
  /** false: the device was asked and reboots; whether the other slot confirms was not waited for. */
  confirmed: boolean;
  seconds: number;
}

export async function rollback(o: RollbackOptions): Promise<RollbackResult> {
  const say = o.onProgress ?? (() => undefined);
  const session = new SshSession(o.ssh);
  const device = session.where;
  const fail = (summary: string, detail = "") => new DeviceError(device, summary, detail);
  const started = Date.now();
  try {
    const before = await firstState(session, o.onWarning ?? ((l) => console.error(l)));
    const target = before.target;
    const targetVersion = target === "A" ? before.version_A : before.version_B;
    say(`device runs version ${before.version} on slot ${before.current} (boot_cycle ${before.boot_cycle}); going back to slot ${target} (version ${targetVersion})`);
    const r = await session.exec(sudo("rollback"), { timeoutMs: ROLLBACK_TIMEOUT_MS, onStderr: (l) => say(`device: ${l.replace(/^manageboot: /, "")}`) });
    // The device reboots right after: ssh may see the connection drop (255) or be killed by the limit.
    if (!/rollback: the next boot runs/.test(r.stderr)) {
      if (/unknown command: rollback/.test(r.stderr)) throw fail("the device's manageboot.sh has no rollback command (its image is older than icos rollback); nothing was changed");
      const refused = /manageboot: error: (.*)/.exec(r.stderr.replace(/\r/g, ""))?.[1];
      if (refused) throw fail(`the device refused the rollback: ${refused}`);
      if (r.timedOut) throw fail(`rollback: no answer within ${ROLLBACK_TIMEOUT_MS / 1000} s; the device did not say it will boot slot ${target}`, tail(r));
      throw fail(`rollback failed (exit ${r.code})`, tail(r));
    }
    const result = (version: string, confirmed: boolean): RollbackResult => ({
      device,
      from: { slot: before.current, version: before.version },
      to: { slot: target, version },
      confirmed,
      seconds: (Date.now() - started) / 1000,
    });
    if (!o.wait) return result(targetVersion, false);
    say(`waiting for slot ${target} to boot and confirm itself`);
    let last = "";
    for (;;) {
      if (Date.now() - started > o.timeoutMs) throw fail(`slot ${target} did not come up confirmed within ${Math.round(o.timeoutMs / 1000)} s`, last);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      const a = await ask(session);
      if (!("state" in a)) {
        if (a.result.code === 255 && hostKeyProblem(a.result.stderr)) throw fail("the device's ssh host key changed across the reboot", tail(a.result));
        last = a.error;
        continue;
      }
      const now = a.state;
      if (now.bootId === before.bootId) continue; // not rebooted yet
      const seen = `slot ${now.current}, version ${now.version}, boot_cycle ${now.boot_cycle}`;
      if (seen !== last) say(`device is up: ${seen}`);
      last = seen;
      if (now.current === before.current && now.boot_cycle === "stable") {
        throw fail(`slot ${target} (version ${targetVersion}) never confirmed: the device runs version ${now.version} on slot ${now.current} again`);
      }
      if (now.current === target && now.boot_cycle === "stable") return result(now.version, true);
    }
  } finally {
    session.close();
  }
}
