// What a build tells its user: one line per stage as it starts and ends (elapsed, cache hit or
// miss), a heartbeat while a long stage runs (so a quiet minute does not look like a hang), and
// the same as data for the manifest and for tests that assert cache behaviour.

export interface StageReport {
  stage: string;
  /** What it was made for, e.g. "guestos/dev root". */
  subject: string;
  digest: string;
  cache: "hit" | "miss";
  seconds: number;
}

export interface ProgressOptions {
  /** Print nothing (a --json build); the reports are still kept. */
  quiet?: boolean;
  /** Where each line goes (default: stderr). */
  write?: (line: string) => void;
  /** A running stage's first heartbeat comes after this long ... */
  heartbeatAfterMs?: number;
  /** ... and the next ones this far apart. */
  heartbeatEveryMs?: number;
}

interface Running {
  stage: string;
  subject: string;
  startedAt: number;
  lastBeatAt: number;
  bytesDone?: number;
  bytesTotal?: number;
}

/** 1536 -> "1.5 KiB": for people, not for keys (model/size.ts formats exact layout sizes). */
export function humanBytes(bytes: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let i = 0;
  for (; value >= 1024 && i < units.length - 1; i++) value /= 1024;
  return i === 0 ? `${bytes} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[i]}`;
}

export class Progress {
  readonly stages: StageReport[] = [];
  private readonly started = Date.now();
  private readonly quiet: boolean;
  private readonly write: (line: string) => void;
  private readonly afterMs: number;
  private readonly everyMs: number;
  /** Stages that run now, innermost last (a stage may run others inside it). */
  private readonly running: Running[] = [];
  private ticker: NodeJS.Timeout | undefined;

  /** `new Progress(true)` is the same as `new Progress({ quiet: true })`. */
  constructor(opts: boolean | ProgressOptions = {}) {
    const o = typeof opts === "boolean" ? { quiet: opts } : opts;
    this.quiet = o.quiet ?? false;
    this.write = o.write ?? ((line) => void process.stderr.write(line + "\n"));
    this.afterMs = o.heartbeatAfterMs ?? 5_000;
    this.everyMs = o.heartbeatEveryMs ?? 10_000;
  }

  private say(line: string): void {
    if (!this.quiet) this.write(line);
  }

  private clock(): string {
    return `[${((Date.now() - this.started) / 1000).toFixed(1).padStart(6)}s]`;
  }

  /** Time `work` as one stage; `work` says whether it found its output in the cache. */
  async stage<T>(stage: string, subject: string, digest: string, work: () => Promise<{ value: T; cache: "hit" | "miss" }>): Promise<T> {
    const t0 = Date.now();
    this.say(`${this.clock()} ${stage.padEnd(10)} ${subject} ...`);
    // The first beat comes afterMs after the start, later ones everyMs apart.
    const run: Running = { stage, subject, startedAt: t0, lastBeatAt: t0 - this.everyMs + this.afterMs };
    this.running.push(run);
    this.startTicker();
    let result: { value: T; cache: "hit" | "miss" };
    try {
      result = await work();
    } finally {
      this.running.splice(this.running.indexOf(run), 1);
      if (this.running.length === 0) this.stopTicker();
    }
    const seconds = (Date.now() - t0) / 1000;
    this.stages.push({ stage, subject, digest, cache: result.cache, seconds });
    this.say(`${this.clock()} ${stage.padEnd(10)} ${subject}: ${result.cache === "hit" ? "cached" : "built"} in ${seconds.toFixed(1)}s (${digest.slice(0, 12)})`);
    return result.value;
  }

  /**
   * How far the running stage got, in bytes (e.g. written to a disk image or an archive), for its
   * heartbeat. Cheap: call it as often as convenient; nothing is printed until the next beat.
   */
  bytes(done: number, total?: number): void {
    const run = this.running.at(-1);
    if (!run) return;
    run.bytesDone = done;
    run.bytesTotal = total;
  }

  note(line: string): void {
    this.say(`${this.clock()} ${line}`);
  }

  private startTicker(): void {
    if (this.ticker || this.quiet) return;
    // Ticks often enough for the beat interval; unref'd so it never keeps the process alive.
    this.ticker = setInterval(() => this.beat(), Math.min(1000, this.afterMs, this.everyMs));
    this.ticker.unref();
  }

  private stopTicker(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
  }

  private beat(): void {
    const run = this.running.at(-1);
    const now = Date.now();
    if (!run || now - run.lastBeatAt < this.everyMs) return;
    run.lastBeatAt = now;
    const elapsed = `${Math.round((now - run.startedAt) / 1000)} s`;
    let done = "";
    if (run.bytesDone !== undefined) {
      done = `, ${humanBytes(run.bytesDone)}`;
      if (run.bytesTotal) done += ` of ${humanBytes(run.bytesTotal)} (${Math.floor((100 * run.bytesDone) / run.bytesTotal)}%)`;
    }
    this.say(`${this.clock()} ${run.stage.padEnd(10)} ${run.subject}: still running after ${elapsed}${done}`);
  }
}
