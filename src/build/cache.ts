// Where the stage store lives, and the lock that lets one build at a time use it.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { cacheDir } from "../paths.ts";
import { Store } from "./store.ts";


function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Open the store for a build: take its lock, clear what killed builds left in tmp/. */
export function openStore(dir = cacheDir()): { store: Store; release: () => void } {
  const store = new Store(dir);
  const lock = join(store.root, "lock");
  for (;;) {
    try {
      const fd = openSync(lock, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(readFileSync(lock, "utf8"));
      if (pid && alive(pid)) throw new UserError(`another icos build (pid ${pid}) is using the cache ${store.root}`, "wait for it to finish");
      rmSync(lock, { force: true }); // its owner died: take over
    }
  }
  store.sweep();
  const release = () => {
    store.sweep();
    rmSync(lock, { force: true });
  };
  return { store, release };
}
