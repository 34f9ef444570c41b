// What a build tells its user: one line per stage as it starts and ends (elapsed, cache hit or
// miss), and the same as data for the manifest and for tests that assert cache behaviour.

export interface StageReport {
  stage: string;
  /** What it was made for, e.g. "guestos/dev root". */
  subject: string;
  digest: string;
  cache: "hit" | "miss";
  seconds: number;
}

export class Progress {
  readonly stages: StageReport[] = [];
  private readonly started = Date.now();

  constructor(private readonly quiet = false) {}

  private say(line: string): void {
    if (!this.quiet) process.stderr.write(line + "\n");
  }

  private clock(): string {
    return `[${((Date.now() - this.started) / 1000).toFixed(1).padStart(6)}s]`;
  }

  /** Time `work` as one stage; `work` says whether it found its output in the cache. */
  async stage<T>(stage: string, subject: string, digest: string, work: () => Promise<{ value: T; cache: "hit" | "miss" }>): Promise<T> {
    const t0 = Date.now();
    this.say(`${this.clock()} ${stage.padEnd(10)} ${subject} ...`);
    const { value, cache } = await work();
    const seconds = (Date.now() - t0) / 1000;
    this.stages.push({ stage, subject, digest, cache, seconds });
    this.say(`${this.clock()} ${stage.padEnd(10)} ${subject}: ${cache === "hit" ? "cached" : "built"} in ${seconds.toFixed(1)}s (${digest.slice(0, 12)})`);
    return value;
  }

  note(line: string): void {
    this.say(`${this.clock()} ${line}`);
  }
}
