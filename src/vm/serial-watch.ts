// The serial console as QEMU writes it to serial.log (a file, so nothing is lost while nobody
// reads): read as it grows, split into clean lines, handed to listeners and matched for waiters.
import { open, type FileHandle } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import { cleanConsoleText, PANIC_LINE } from "./console.ts";

export interface SeenLine {
  line: string;
  /** Since QEMU started. */
  elapsedMs: number;
}

interface Waiter {
  test: (line: string) => boolean;
  resolve: (seen: SeenLine) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class SerialWatch {
  private readonly lines: SeenLine[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly lineListeners: ((line: string, elapsedMs: number) => void)[] = [];
  private readonly dataListeners: ((chunk: Buffer) => void)[] = [];
  private readonly decoder = new StringDecoder("utf8");
  private partial = "";
  private fd: FileHandle | undefined;
  private pos = 0;
  private reading: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  /** `onPanic` is called for a kernel panic line, before any waiter sees it (it is not matched). */
  constructor(
    private readonly serialLog: string,
    private readonly startedAt: number,
    private readonly onPanic: (line: string) => void,
  ) {}

  onLine(listener: (line: string, elapsedMs: number) => void): void {
    this.lineListeners.push(listener);
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
  }

  /** The first line (seen so far or later) that matches; rejects with the failure, or `timeoutError()` after `timeoutMs`. */
  waitFor(match: RegExp | ((line: string) => boolean), timeoutMs: number, timeoutError: () => Error): Promise<SeenLine> {
    const test = typeof match === "function" ? match : (line: string) => match.test(line);
    const seen = this.lines.find((l) => test(l.line));
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolveWait, rejectWait) => {
      const waiter: Waiter = {
        test,
        resolve: resolveWait,
        reject: rejectWait,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          rejectWait(timeoutError());
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** The first failure wins: every waiter, now and later, is rejected with it. */
  fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.waiters.clear();
  }

  /** The last `count` non-blank lines, for error messages. */
  tail(count: number): string {
    return this.lines
      .map((l) => l.line)
      .filter((l) => l.trim() !== "")
      .slice(-count)
      .join("\n");
  }

  /** Read what QEMU appended to the serial log (one read at a time); `final` flushes the last partial line. */
  read(final: boolean): Promise<void> {
    const next = this.reading.then(async () => {
      if (!this.fd) {
        try {
          this.fd = await open(this.serialLog, "r");
        } catch {
          return; // not created yet
        }
      }
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await this.fd.read(buf, 0, buf.length, this.pos);
        if (bytesRead === 0) break;
        this.pos += bytesRead;
        const chunk = Buffer.from(buf.subarray(0, bytesRead));
        for (const l of this.dataListeners) l(chunk);
        this.addText(this.decoder.write(chunk));
      }
      if (final) this.addText(this.decoder.end() + "\n");
    });
    this.reading = next.catch(() => undefined); // a failed read must not block the next one
    return next;
  }

  /** Close the log (after the final read). */
  async close(): Promise<void> {
    await this.fd?.close().catch(() => undefined);
    this.fd = undefined;
  }

  /** Stop watching: waiters are dropped (never settled) and the log closed. */
  detach(): void {
    for (const w of this.waiters) clearTimeout(w.timer);
    this.waiters.clear();
    void this.fd?.close();
    this.fd = undefined;
  }

  private addText(text: string): void {
    const parts = (this.partial + text).split("\n");
    this.partial = parts.pop()!;
    const elapsed = Date.now() - this.startedAt;
    for (const raw of parts) {
      const line = cleanConsoleText(raw);
      const seen = { line, elapsedMs: elapsed };
      this.lines.push(seen);
      for (const l of this.lineListeners) l(line, elapsed);
      if (PANIC_LINE.test(line)) {
        this.onPanic(line);
        continue;
      }
      for (const w of [...this.waiters]) {
        if (w.test(line)) {
          clearTimeout(w.timer);
          this.waiters.delete(w);
          w.resolve(seen);
        }
      }
    }
  }
}
