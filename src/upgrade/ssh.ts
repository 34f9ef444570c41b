// ssh to a device (a VM's forwarded port, or a real node) with the system's OpenSSH client. The
// host key is checked: against --known-hosts when given, else trusted on first use and pinned
// for the rest of the command, so a device that comes back from an upgrade with another host
// key (lost identity) is an error rather than a silent accept.
import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ToolMissingError, UserError } from "../errors.ts";
import { childEnv } from "../exec.ts";
import { packageOf } from "../host/tools.ts";

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  identity?: string;
  /** A known_hosts file to check against (strict); default: pin the first key seen. */
  knownHosts?: string;
}

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** "127.0.0.1:2222", "[::1]:22", "node.example" (port 22). */
export function parseSshAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(text.trim());
  const port = m?.[3] === undefined ? 22 : Number(m[3]);
  if (!m || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new UserError(`--ssh: expected HOST[:PORT] (e.g. 127.0.0.1:2222), got "${text}"`);
  }
  return { host: m[1] ?? m[2]!, port };
}

export class SshSession {
  private readonly dir = mkdtempSync(join(tmpdir(), "icos-ssh-"));

  constructor(readonly target: SshTarget) {}

  get where(): string {
    return `${this.target.user}@${this.target.host}:${this.target.port}`;
  }

  private args(command: string): string[] {
    const t = this.target;
    const hostKey = t.knownHosts
      ? ["-o", `UserKnownHostsFile=${t.knownHosts}`, "-o", "StrictHostKeyChecking=yes"]
      : ["-o", `UserKnownHostsFile=${join(this.dir, "known_hosts")}`, "-o", "StrictHostKeyChecking=accept-new"];
    return [
      "-p", String(t.port), ...(t.identity ? ["-i", t.identity, "-o", "IdentitiesOnly=yes"] : []), ...hostKey,
      "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
      "-o", "LogLevel=ERROR", `${t.user}@${t.host}`, command,
    ];
  }

  /** Run `command` on the device; `stdinFile` is streamed to it; stderr lines go to `onStderr` as they come. */
  exec(command: string, o: { stdinFile?: string; onStderr?: (line: string) => void; timeoutMs?: number } = {}): Promise<SshResult> {
    return new Promise((resolve, reject) => {
      const child = spawn("ssh", this.args(command), { env: childEnv(), stdio: [o.stdinFile ? "pipe" : "ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      let partial = "";
      const timer = o.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), o.timeoutMs) : undefined;
      child.stdout!.on("data", (b: Buffer) => (stdout += b.toString()));
      child.stderr!.on("data", (b: Buffer) => {
        stderr += b.toString();
        partial += b.toString();
        const lines = partial.split("\n");
        partial = lines.pop()!;
        for (const l of lines) o.onStderr?.(l);
      });
      child.once("error", (e: NodeJS.ErrnoException) => reject(e.code === "ENOENT" ? new ToolMissingError("ssh", packageOf("ssh")) : e));
      if (o.stdinFile) {
        const input = createReadStream(o.stdinFile);
        input.once("error", reject);
        child.stdin!.once("error", () => undefined); // the device may hang up early; its exit code says why
        input.pipe(child.stdin!);
      }
      child.once("close", (code) => {
        if (timer) clearTimeout(timer);
        if (partial) o.onStderr?.(partial);
        resolve({ code: code ?? 255, stdout, stderr });
      });
    });
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
