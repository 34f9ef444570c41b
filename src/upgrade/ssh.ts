// ssh to a device (a VM's forwarded port, or a real node) with the system's OpenSSH client. The
// device's host key is always checked strictly, against one of:
// - the user's own known_hosts (ssh's default UserKnownHostsFile; the default),
// - one given file only (--known-hosts),
// - the first key seen, only when asked for (--trust-on-first-use): it is pinned in a private
//   known_hosts for the rest of the command;
// - a VM's own known_hosts (icos ssh, status, rollback on a VM from `icos run`): the key is learnt
//   on first contact (accept-new) and required from then on, in a file of that VM alone, so a port
//   that a later VM reuses never trips the user's known_hosts.
// In every mode a device that comes back from an upgrade with another host key (lost identity,
// or another machine answering) is an error, never a new key to accept.
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { UserError } from "../errors.ts";
import { run, start } from "../exec.ts";

/** How the device's host key is checked: see the header. acceptNew: a key not in the file yet is added (a VM's own file). */
export type HostKeyCheck = "user-known-hosts" | "trust-on-first-use" | { knownHosts: string; acceptNew?: boolean };

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  identity?: string;
  /** Default: the user's own known_hosts, strict. */
  hostKeys?: HostKeyCheck;
}

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
  /** ssh was killed: `idle` (no output and no stdin taken for `idleMs`) or `total` (`timeoutMs` passed). */
  timedOut?: "idle" | "total";
}

export interface ExecOptions {
  /** Streamed to the command's stdin. */
  stdinFile?: string;
  /** Each stderr line, as it comes. */
  onStderr?: (line: string) => void;
  /** Kill ssh after this long in all. */
  timeoutMs?: number;
  /** Kill ssh when for this long nothing came on its stdout or stderr and none of `stdinFile` was taken. */
  idleMs?: number;
}

/** What ssh said about the host key, if the connection failed on it. */
export type HostKeyProblem = "unknown" | "changed" | "failed";

/** "127.0.0.1:2222", "[::1]:22", "node.example" (port 22). */
export function parseSshAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(text.trim());
  const port = m?.[3] === undefined ? 22 : Number(m[3]);
  if (!m || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new UserError(`--ssh: expected HOST[:PORT] (e.g. 127.0.0.1:2222), got "${text}"`);
  }
  return { host: m[1] ?? m[2]!, port };
}

/** A path as an ssh_config argument: absolute, `%` not read as a token, quoted when it has blanks. */
function configPath(file: string): string {
  const path = resolve(file).replace(/%/g, "%%");
  return /[\s"'\\]/.test(path) ? `"${path.replace(/(["\\])/g, "\\$1")}"` : path;
}

/** The host-key options for `check`; `pinned` is the private known_hosts of trust on first use. */
export function hostKeyArgs(check: HostKeyCheck, pinned: string): string[] {
  if (check === "user-known-hosts") return ["-o", "StrictHostKeyChecking=yes"];
  if (check === "trust-on-first-use") return ["-o", `UserKnownHostsFile=${configPath(pinned)}`, "-o", "StrictHostKeyChecking=accept-new"];
  return ["-o", `UserKnownHostsFile=${configPath(check.knownHosts)}`, "-o", "GlobalKnownHostsFile=/dev/null", "-o", `StrictHostKeyChecking=${check.acceptNew ? "accept-new" : "yes"}`];
}

/** ssh's argv for running `command` on `t`. */
export function sshArgv(t: SshTarget, command: string, pinned: string): string[] {
  return [
    "-p", String(t.port), ...(t.identity ? ["-i", t.identity, "-o", "IdentitiesOnly=yes"] : []), ...hostKeyArgs(t.hostKeys ?? "user-known-hosts", pinned),
    "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
    "-o", "LogLevel=ERROR", `${t.user}@${t.host}`, command,
  ];
}

/**
 * ssh's argv for a person at a terminal: a login shell, or `remote` (after `--`, so a command that
 * starts with "-" is not read as ssh's option). No BatchMode: ssh may ask for a passphrase.
 */
export function loginArgv(t: SshTarget, remote: readonly string[]): string[] {
  if (t.hostKeys === "trust-on-first-use") throw new Error("loginArgv: trust on first use pins the key of one command, not of a login");
  return [
    "-p", String(t.port), ...(t.identity ? ["-i", t.identity, "-o", "IdentitiesOnly=yes"] : []), ...hostKeyArgs(t.hostKeys ?? "user-known-hosts", ""),
    "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", `${t.user}@${t.host}`, ...(remote.length > 0 ? ["--", ...remote] : []),
  ];
}

/** Did ssh fail on the host key? (OpenSSH's own wording, as printed at LogLevel=ERROR.) */
export function hostKeyProblem(stderr: string): HostKeyProblem | undefined {
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|host key for .* has changed and you have requested strict checking/i.test(stderr)) return "changed";
  if (/No \S+ host key is known for .* and you have requested strict checking/.test(stderr)) return "unknown";
  if (/Host key verification failed/.test(stderr)) return "failed";
  return undefined;
}

/** `host` as known_hosts and ssh-keyscan spell it with `port`. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export class SshSession {
  private readonly dir = mkdtempSync(join(tmpdir(), "icos-ssh-"));
  /** Trust on first use: the key seen first is written here, and required from then on. */
  readonly pinnedFile = join(this.dir, "known_hosts");

  constructor(readonly target: SshTarget) {}

  get where(): string {
    return `${this.target.user}@${this.target.host}:${this.target.port}`;
  }

  get hostKeys(): HostKeyCheck {
    return this.target.hostKeys ?? "user-known-hosts";
  }

  /** The known_hosts file(s) the host key is checked against, for messages. */
  async knownHostsFiles(): Promise<string[]> {
    const check = this.hostKeys;
    if (check === "trust-on-first-use") return [this.pinnedFile];
    if (typeof check === "object") return [resolve(check.knownHosts)];
    // ssh's own answer, so a UserKnownHostsFile in ~/.ssh/config is named correctly.
    const r = await run("ssh", ["-G", "-p", String(this.target.port), `${this.target.user}@${this.target.host}`], { allowFailure: true }).catch(() => undefined);
    const line = r?.code === 0 ? r.stdout.split("\n").find((l) => l.startsWith("userknownhostsfile ")) : undefined;
    return line ? line.split(/\s+/).slice(1).filter(Boolean) : ["~/.ssh/known_hosts"];
  }

  /** Trust on first use: the key pinned so far, as `ED25519 SHA256:...` (undefined before one was seen). */
  async pinnedFingerprint(): Promise<string | undefined> {
    if (!existsSync(this.pinnedFile) || !readFileSync(this.pinnedFile, "utf8").trim()) return undefined;
    const r = await run("ssh-keygen", ["-l", "-f", this.pinnedFile], { allowFailure: true });
    const fingerprints = r.stdout.split("\n").filter(Boolean).map((l) => {
      const f = l.trim().split(/\s+/);
      return `${(f[f.length - 1] ?? "").replace(/[()]/g, "")} ${f[1] ?? "?"}`;
    });
    return fingerprints.length ? fingerprints.join(", ") : undefined;
  }

  /** Run `command` on the device; `stdinFile` is streamed to it; stderr lines go to `onStderr` as they come. */
  async exec(command: string, o: ExecOptions = {}): Promise<SshResult> {
    // Rejects with a ToolMissingError when ssh is not installed.
    const child = await start("ssh", sshArgv(this.target, command, this.pinnedFile), { stdio: [o.stdinFile ? "pipe" : "ignore", "pipe", "pipe"] });
    return new Promise((resolvePromise, reject) => {
      let stdout = "";
      let stderr = "";
      let partial = "";
      let timedOut: SshResult["timedOut"];
      let lastActivity = Date.now();
      let settled = false;
      const input = o.stdinFile ? createReadStream(o.stdinFile) : undefined;
      const kill = (why: "idle" | "total") => {
        if (timedOut || settled) return;
        timedOut = why;
        input?.unpipe();
        input?.destroy();
        child.kill("SIGKILL");
      };
      const timer = o.timeoutMs ? setTimeout(() => kill("total"), o.timeoutMs) : undefined;
      const idleTimer = o.idleMs
        ? setInterval(() => Date.now() - lastActivity >= o.idleMs! && kill("idle"), Math.max(50, Math.min(1000, o.idleMs / 5)))
        : undefined;
      const finish = (code: number | null) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        if (idleTimer) clearInterval(idleTimer);
        if (partial) o.onStderr?.(partial);
        resolvePromise({ code: code ?? 255, stdout, stderr, ...(timedOut ? { timedOut } : {}) });
      };
      child.stdout!.on("data", (b: Buffer) => {
        lastActivity = Date.now();
        stdout += b.toString();
      });
      child.stderr!.on("data", (b: Buffer) => {
        lastActivity = Date.now();
        stderr += b.toString();
        partial += b.toString();
        const lines = partial.split("\n");
        partial = lines.pop()!;
        for (const l of lines) o.onStderr?.(l.replace(/\r$/, ""));
      });
      child.once("error", (e: NodeJS.ErrnoException) => {
        if (timer) clearTimeout(timer);
        if (idleTimer) clearInterval(idleTimer);
        settled = true;
        reject(e);
      });
      if (input) {
        // Bytes read from the file are bytes ssh took: the pipe does not read ahead of it by more than its buffers.
        input.on("data", () => (lastActivity = Date.now()));
        input.once("error", (e) => {
          child.kill("SIGKILL");
          reject(e);
        });
        child.stdin!.once("error", () => undefined); // the device may hang up early; its exit code says why
        input.pipe(child.stdin!);
      }
      child.once("exit", (code) => {
        // A killed ssh may leave a child (a ProxyCommand) holding its pipes open: do not wait for them.
        if (!timedOut) return;
        child.stdout!.destroy();
        child.stderr!.destroy();
        finish(code);
      });
      child.once("close", (code) => finish(code));
    });
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
