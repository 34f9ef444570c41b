// Run the icos CLI from source, as a user would, and capture what it prints.
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../../src/paths.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface IcosOptions {
  env?: Record<string, string>;
  /** Run with an empty /usr/sbin (a private mount namespace) to see how missing tools are reported. */
  hideSbin?: boolean;
  /** Run as user nobody when we are root (root reads any file), to see how an unreadable file is reported. */
  asNobody?: boolean;
}

/** The command line that runs icos from source. */
const icosArgv = (args: string[]): string[] => [process.execPath, "--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args];

export function icos(args: string[], opts: IcosOptions = {}): CliResult {
  const nobody = opts.asNobody && process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
  const argv = [...nobody, ...icosArgv(args)];
  const [cmd, ...rest] = opts.hideSbin
    ? ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount -t tmpfs tmpfs /usr/sbin && exec "$@"', "sh", ...argv]
    : argv;
  const r = spawnSync(cmd!, rest, {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    encoding: "utf8",
  });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** icos() without blocking the event loop (VM tests keep reading the console meanwhile). */
export function icosAsync(args: string[], opts: { env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...rest] = icosArgv(args);
    const child = spawn(cmd!, rest, { cwd: ROOT, env: { ...process.env, ...opts.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? 128, stdout, stderr }));
  });
}
