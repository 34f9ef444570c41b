// The one wrapper around child processes: every host tool icos runs goes through here, so a
// missing tool and a failed tool are always reported the same way (see src/errors.ts). run() for a
// tool that runs to its end; start() for one icos watches itself (QEMU, ssh); runSync() where only
// a synchronous call will do (the cache lock). No other file imports node:child_process.
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import { ToolFailedError, ToolMissingError } from "./errors.ts";
import { packageOf } from "./host-tools.ts";

export interface RunOptions {
  cwd?: string;
  /** Added to the environment (on top of process.env). */
  env?: Record<string, string>;
  /** Written to the child's stdin. */
  input?: string | Buffer;
  /** What icos was doing, for the error message (e.g. "mkfs.ext4 (guestos/dev root)"). */
  context?: string;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  /** Pass stderr through to ours (for long tools whose progress the user should see). */
  inheritStderr?: boolean;
}

export type { ChildProcess } from "node:child_process";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

// Tools such as mke2fs live in sbin, which a non-root PATH often lacks.
const SBIN = "/usr/local/sbin:/usr/sbin:/sbin";

export function childEnv(extra?: Record<string, string>): NodeJS.ProcessEnv {
  const path = process.env.PATH ?? "/usr/bin:/bin";
  return { ...process.env, PATH: `${path}:${SBIN}`, LC_ALL: "C", ...extra };
}

/** Quote an argv for display so it can be pasted into a shell. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}

/** What a failed spawn means: a command that is not installed is a ToolMissingError naming its package. */
function spawnError(command: string, e: NodeJS.ErrnoException): Error {
  return e.code === "ENOENT" ? new ToolMissingError(command, packageOf(command)) : e;
}

/**
 * Where run() copies what its tools print, line by line and tagged with the command (`--verbose`);
 * nowhere by default. Binary output (a tool writing an image to stdout) is named, not shown.
 */
let toolEcho: ((text: string) => void) | undefined;

export function echoToolOutput(write: ((text: string) => void) | undefined): void {
  toolEcho = write;
}

/** Splits one stream of a child into lines for toolEcho; flush() prints a last unfinished line. */
function echoLines(tag: string, write: (text: string) => void): { push(b: Buffer): void; flush(): void } {
  const decoder = new StringDecoder("utf8"); // holds a character split across two reads
  let partial = "";
  let binary = false;
  return {
    push(b) {
      if (binary) return;
      const text = decoder.write(b);
      if (text.includes("\0") || text.includes("\uFFFD")) {
        binary = true;
        partial = "";
        return write(`${tag}: (binary output, not shown)\n`);
      }
      const lines = (partial + text).split("\n");
      partial = lines.pop()!;
      for (const line of lines) write(`${tag}: ${line}\n`);
    },
    flush() {
      if (partial) write(`${tag}: ${partial}\n`);
      partial = "";
    },
  };
}

function tail(text: string, lines = 5): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

export async function run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const argv = [command, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: childEnv(opts.env),
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", opts.inheritStderr ? "inherit" : "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const echo = toolEcho;
    const echoes = echo ? [echoLines(command, echo), echoLines(command, echo)] : [];
    echo?.(`$ ${shellQuote(argv)}\n`);
    child.stdout!.on("data", (b: Buffer) => {
      out.push(b);
      echoes[0]?.push(b);
    });
    child.stderr?.on("data", (b: Buffer) => {
      err.push(b);
      echoes[1]?.push(b);
    });
    child.on("error", (e: NodeJS.ErrnoException) => reject(spawnError(command, e)));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    child.on("close", (code, signal) => {
      for (const e of echoes) e.flush();
      const result = { code: code ?? 128, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (code === 0 || opts.allowFailure) return resolve(result);
      const status = signal ? `killed by signal ${signal}` : `exit code ${code}`;
      reject(new ToolFailedError(shellQuote(argv), status, tail(result.stderr || result.stdout), opts.context));
    });
  });
}

/** Is `command` on PATH (sbin included)? */
export async function which(command: string): Promise<string | undefined> {
  const r = await run("sh", ["-c", 'command -v "$1"', "sh", command], { allowFailure: true });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

export interface StartOptions {
  cwd?: string;
  /** Added to the environment (on top of process.env). */
  env?: Record<string, string>;
  /** As child_process.spawn takes it (pipes, "ignore", "inherit", file descriptors); default all "ignore". */
  stdio?: StdioOptions;
  /** In its own process group: a Ctrl-C in the terminal does not reach it, and it may outlive us. */
  detached?: boolean;
}

/**
 * Start a child that the caller watches itself (long-running, or talked to through its pipes).
 * Resolves with it once it runs; rejects with a ToolMissingError when `command` is not installed.
 * Later failures come as its "error" events, exit as its "exit" and "close" events.
 */
export function start(command: string, args: readonly string[], opts: StartOptions = {}): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: childEnv(opts.env), stdio: opts.stdio ?? "ignore", detached: opts.detached });
    child.once("spawn", () => resolve(child));
    // Stays attached: an error after the spawn settles nothing here (the caller listens for those).
    child.once("error", (e: NodeJS.ErrnoException) => reject(spawnError(command, e)));
  });
}

export interface RunSyncOptions {
  /** Added to the environment (on top of process.env). */
  env?: Record<string, string>;
  /** As child_process.spawnSync takes it (e.g. a descriptor passed as the child's fd 3). */
  stdio?: StdioOptions;
}

export interface RunSyncResult {
  /** null when killed by a signal. */
  status: number | null;
  signal: NodeJS.Signals | null;
  /** Empty unless stdio pipes stderr. */
  stderr: string;
}

/**
 * Run a short tool synchronously, for the few callers that cannot await (the cache lock). A missing
 * command is a ToolMissingError; the exit status is the caller's to read (any code may mean something).
 */
export function runSync(command: string, args: readonly string[], opts: RunSyncOptions = {}): RunSyncResult {
  const r = spawnSync(command, args, { env: childEnv(opts.env), stdio: opts.stdio });
  if (r.error) throw spawnError(command, r.error);
  return { status: r.status, signal: r.signal, stderr: r.stderr?.toString() ?? "" };
}
