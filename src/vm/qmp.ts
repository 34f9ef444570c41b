// A minimal QMP client (QEMU Machine Protocol, JSON lines over the VM's qmp.sock): enough to ask
// QEMU for one command, e.g. system_powerdown, the ACPI power button. QEMU greets with
// {"QMP": ...}, wants {"execute": "qmp_capabilities"} first, and answers each command with
// {"return": ...} or {"error": {"class", "desc"}}; {"event": ...} lines may come in between.
import type { Socket } from "node:net";
import { connectUnix } from "./unix-socket.ts";

export class QmpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QmpError";
  }
}

const connectError = (path: string, e: unknown): QmpError => new QmpError(`cannot connect to ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);

/** Each JSON object QEMU sends on `sock` (one per line), then `afterChunk` once per chunk read. */
function onMessages(sock: Socket, onMessage: (msg: Record<string, unknown>) => void, afterChunk?: () => void): void {
  let buffered = "";
  sock.setEncoding("utf8");
  sock.on("data", (text: string) => {
    buffered += text;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        continue; // not JSON: ignored (QMP sends only JSON)
      }
      if (typeof msg === "object" && msg !== null) onMessage(msg as Record<string, unknown>);
    }
    afterChunk?.();
  });
}

/** Run `command` over the QMP socket at `path`; resolves with its "return" value. */
export async function qmpCommand(path: string, command: string, timeoutMs = 5000): Promise<unknown> {
  let sock: Socket;
  try {
    sock = await connectUnix(path);
  } catch (e) {
    throw connectError(path, e);
  }
  const replies: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  onMessages(sock, (msg) => {
    if (!("event" in msg)) replies.push(msg);
  }, () => wake?.());
  sock.on("close", () => {
    closed = true;
    wake?.();
  });
  sock.on("error", () => undefined); // "close" follows
  const deadline = Date.now() + timeoutMs;
  const next = async (what: string): Promise<Record<string, unknown>> => {
    while (replies.length === 0) {
      if (closed) throw new QmpError(`QEMU closed the QMP connection while we waited for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new QmpError(`no QMP answer (${what}) within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
    return replies.shift()!;
  };
  const ask = async (execute: string): Promise<unknown> => {
    sock.write(JSON.stringify({ execute }) + "\n");
    const reply = await next(execute);
    if ("return" in reply) return reply.return;
    const err = reply.error as { desc?: unknown } | undefined;
    throw new QmpError(`QMP ${execute}: ${typeof err?.desc === "string" ? err.desc : JSON.stringify(reply)}`);
  };
  try {
    const greeting = await next("the greeting");
    if (!("QMP" in greeting)) throw new QmpError(`not a QMP greeting: ${JSON.stringify(greeting).slice(0, 200)}`);
    await ask("qmp_capabilities");
    return await ask(command);
  } finally {
    sock.destroy();
  }
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

/**
 * Listen to QEMU's events on a QMP socket of its own (one client per socket: `icos stop` keeps
 * the other). Retries the connection for `connectMs` (QEMU makes the socket as it starts).
 * Resolves once listening, with a promise that settles when QEMU closes the connection (it exits):
 * every event it sent has been handed to `onEvent` by then.
 */
export async function qmpEvents(path: string, onEvent: (e: QmpEvent) => void, connectMs = 10_000): Promise<{ closed: Promise<void>; close: () => void }> {
  const until = Date.now() + connectMs;
  let sock: Socket | undefined;
  while (!sock) {
    try {
      sock = await connectUnix(path);
    } catch (e) {
      if (Date.now() > until) throw connectError(path, e);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const s = sock;
  onMessages(s, (msg) => {
    if ("QMP" in msg) s.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n"); // events flow after this
    else if (typeof msg.event === "string") onEvent(msg as unknown as QmpEvent);
  });
  s.on("error", () => undefined); // "close" follows
  const closed = new Promise<void>((resolve) => s.once("close", () => resolve()));
  return { closed, close: () => s.destroy() };
}
