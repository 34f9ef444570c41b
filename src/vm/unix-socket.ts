// Connecting to a VM's unix sockets (ser.sock, qmp.sock) by path. A unix socket path must fit in
// 108 bytes (sun_path); a deep cache directory does not, so a long path is reached relative to its
// directory, the way QEMU itself creates them (it runs in the work directory).
import { connect, type Socket } from "node:net";
import { basename, dirname } from "node:path";

const SUN_PATH_MAX = 107;

/** A connected socket; rejects with the connect error (ENOENT: nobody listens, ECONNREFUSED: nobody accepts). */
export function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let sock: Socket;
    if (Buffer.byteLength(path) <= SUN_PATH_MAX) sock = connect(path);
    else {
      // connect(2) runs inside connect(): the relative name is resolved before we change back.
      const cwd = process.cwd();
      process.chdir(dirname(path));
      try {
        sock = connect(basename(path));
      } finally {
        process.chdir(cwd);
      }
    }
    sock.once("connect", () => {
      sock.off("error", reject);
      resolve(sock);
    });
    sock.once("error", reject);
  });
}
