// An interactive serial console on a running VM (`icos console`): the terminal in raw mode joined
// to the VM's ser.sock, byte for byte both ways, until the escape key (Ctrl-], as telnet and
// virsh console use), the end of piped input, or until QEMU closes the socket. No socat or
// screen needed.
//
// QEMU's serial port stalls while a connected client does not read, and can stall for good when a
// client hangs up while QEMU writes to it (docs/vm.md): so output is read for as long as we are
// connected, and detaching first half-closes and keeps reading until QEMU lets go, or briefly.
import type { Socket } from "node:net";
import { UserError } from "../errors.ts";
import { connectUnix } from "./unix-socket.ts";

/** Ctrl-] */
export const ESCAPE_BYTE = 0x1d;
export const ESCAPE_NAME = "Ctrl-]";
const DETACH_DRAIN_MS = 300;
/** Input that ends (a pipe, not a terminal) detaches this long after its end, so the answer to it is seen. */
export const INPUT_END_LINGER_MS = 1000;

export type ConsoleEnd = "detached" | "closed";

export interface AttachOptions {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  output: NodeJS.WritableStream;
  /** Where to look for the socket's VM, for messages. */
  vmName: string;
}

/** Connect to `socketPath`; a socket nobody serves is a UserError naming the VM. */
export async function openConsole(socketPath: string, vmName: string): Promise<Socket> {
  try {
    return await connectUnix(socketPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "it is not there" : code === "ECONNREFUSED" ? "QEMU does not accept on it" : (e as Error).message;
    throw new UserError(`cannot connect to the serial console of ${vmName} (${socketPath}): ${why}`, "is the VM still running? `icos ps` lists the running ones");
  }
}

/** Join `input` and `output` to the console socket until the escape byte or until QEMU closes it. */
export function attachConsole(sock: Socket, o: AttachOptions): Promise<ConsoleEnd> {
  const raw = o.input.isTTY === true && typeof o.input.setRawMode === "function";
  if (raw) o.input.setRawMode!(true);
  return new Promise((resolve) => {
    let ended = false;
    const finish = (how: ConsoleEnd) => {
      if (ended) return;
      ended = true;
      o.input.off("data", onInput);
      o.input.pause();
      if (raw) o.input.setRawMode!(false);
      if (how === "closed") return resolve(how);
      // Half-close and keep draining, so QEMU is not left writing to a client that vanished.
      const timer = setTimeout(() => sock.destroy(), DETACH_DRAIN_MS);
      sock.once("close", () => {
        clearTimeout(timer);
        resolve(how);
      });
      sock.end();
    };
    const onInput = (chunk: Buffer | string) => {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      const at = bytes.indexOf(ESCAPE_BYTE);
      if (at < 0) return void sock.write(bytes);
      if (at > 0) sock.write(bytes.subarray(0, at));
      finish("detached");
    };
    sock.on("data", (b: Buffer) => {
      if (!ended) o.output.write(b);
    });
    sock.on("error", () => undefined); // "close" follows
    sock.once("close", () => finish("closed"));
    o.input.on("data", onInput);
    o.input.once("end", () => setTimeout(() => finish("detached"), INPUT_END_LINGER_MS));
    o.input.resume();
  });
}
