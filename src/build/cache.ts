// Where the stage store lives, and the lock that lets one build at a time use it.
//
// The lock is flock(2) on .icos-cache/lock, held through one file descriptor of this process for
// as long as the store is open. Node has no flock binding, so util-linux `flock` is run on that
// descriptor (passed as its fd 3): a flock lock belongs to the open file description, which the
// child shares with us, so the lock stays ours after the child exits and the kernel drops it when
// we close the descriptor or die, however we die. Our descriptors are close-on-exec, so the tools
// a build runs do not inherit it. The lock file is never removed (removing it would let a third
// build lock a new file while the second still holds the old one); the pid written in it only
// tells a waiting build who it is waiting for.
import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ToolFailedError, UserError } from "../errors.ts";
import { runSync, shellQuote } from "../exec.ts";
import { cacheDir } from "../paths.ts";
import { Store } from "./store.ts";

/** How long a build waits for another one to release the cache, unless ICOS_CACHE_LOCK_WAIT (seconds) says otherwise. */
export const DEFAULT_LOCK_WAIT_SECONDS = 30 * 60;
/** `flock -E`: the exit code meaning "held by someone else" (any other non-zero code is a failure of flock itself). */
const CONFLICT = 75;

export interface OpenStoreOptions {
  /** Seconds to wait for another build to release the cache; 0 = fail at once. */
  waitSeconds?: number;
  /** Where the "waiting for the cache lock" and "damaged entry" lines go (stderr by default). */
  note?: (line: string) => void;
}

function lockWaitSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.ICOS_CACHE_LOCK_WAIT;
  if (raw === undefined || raw === "") return DEFAULT_LOCK_WAIT_SECONDS;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new UserError(`ICOS_CACHE_LOCK_WAIT=${JSON.stringify(raw)} is not a number of seconds`);
  return n;
}

/** flock(2) LOCK_EX on `fd` through util-linux flock: true when taken, false when another holder kept it for `waitSeconds`. */
function flock(fd: number, waitSeconds: number): boolean {
  const args = ["-x", "-E", String(CONFLICT), ...(waitSeconds > 0 ? ["-w", String(waitSeconds)] : ["-n"]), "3"];
  const r = runSync("flock", args, { stdio: ["ignore", "ignore", "pipe", fd] });
  if (r.status === 0) return true;
  if (r.status === CONFLICT) return false;
  const status = r.signal ? `killed by signal ${r.signal}` : `exit code ${r.status}`;
  throw new ToolFailedError(shellQuote(["flock", ...args]), status, r.stderr.trim(), "taking the cache lock");
}

/** "(pid 123) " from the lock file, when it names one: information for the user, not the lock. */
function holder(lockFile: string): string {
  try {
    const pid = Number(readFileSync(lockFile, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? ` (pid ${pid})` : "";
  } catch {
    return "";
  }
}

/**
 * Open the store for a build: take the cache lock (waiting, bounded, for a build that holds it),
 * then clear what killed builds left in tmp/. `release` sweeps tmp/ again and drops the lock.
 */
export function openStore(dir = cacheDir(), opts: OpenStoreOptions = {}): { store: Store; release: () => void } {
  const store = new Store(dir);
  if (opts.note) store.note = opts.note;
  const lockFile = join(store.root, "lock");
  const fd = openSync(lockFile, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    if (!flock(fd, 0)) {
      const wait = opts.waitSeconds ?? lockWaitSeconds();
      const who = holder(lockFile);
      if (wait > 0) (opts.note ?? ((line) => process.stderr.write(line + "\n")))(`waiting for the cache lock held by another icos build${who} (${lockFile}), up to ${wait} s`);
      if (wait <= 0 || !flock(fd, wait)) {
        throw new UserError(
          `another icos build${who} holds the cache lock ${lockFile}` + (wait > 0 ? ` and did not release it within ${wait} s` : ""),
          "wait for it to finish, or set ICOS_CACHE_LOCK_WAIT to the seconds to wait",
        );
      }
    }
    // Ours now. The pid is for whoever waits next; the lock is the flock on fd.
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    store.sweep(); // only the lock holder may: nobody else's temp dirs are live
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  let open = true;
  const release = () => {
    if (!open) return;
    open = false;
    try {
      store.sweep();
      ftruncateSync(fd, 0);
    } finally {
      closeSync(fd); // drops the lock
    }
  };
  return { store, release };
}
