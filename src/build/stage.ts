// The one shape of a build stage, and the one place that runs a stage against the store.
//
// A stage declares its name, a version (bump it when the same inputs would now give other bytes),
// the host tools it runs and the part of its input that determines its output (`key`). Its digest
// is sha256 over canonical JSON of those (tool versions included). On a miss, `run` writes into a
// fresh temp directory, which the store commits by rename; on a hit the committed entry is reused.
import { toolVersions } from "../host/doctor.ts";
import { digestOf } from "./digest.ts";
import type { Progress } from "./progress.ts";
import type { Store } from "./store.ts";

export interface StageContext {
  store: Store;
  progress: Progress;
}

export interface Stage<In, Out> {
  name: string;
  version: number;
  /** Host tools the stage runs: their versions are part of its digest. */
  tools: readonly string[];
  /** What the output depends on, as a JSON object (options with defaults applied, input digests). */
  key(input: In): Record<string, unknown>;
  /** What it makes, for the progress line, e.g. "guestos/dev boot + root (ext4)". */
  subject(input: In): string;
  /** Make the output in `dir` (a temp dir the store commits); returns what meta.json records. */
  run(dir: string, input: In, ctx: StageContext): Promise<Record<string, unknown>>;
  /** The output, from a committed entry. */
  output(dir: string, meta: Record<string, unknown>, input: In): Out;
  /** Whether a committed entry is still usable (e.g. the podman image it names still exists). */
  usable?(meta: Record<string, unknown>): Promise<boolean>;
}

const RESERVED = ["stage", "version", "tools"];

/** The digest of one run of a stage: its name, version, key (its fields beside those) and the versions of its tools. */
export async function stageDigest<In>(stage: Stage<In, unknown>, input: In): Promise<string> {
  const key = stage.key(input) as Record<string, unknown>;
  const clash = Object.keys(key).find((k) => RESERVED.includes(k));
  if (clash) throw new Error(`stage ${stage.name}: its key must not have a field named ${clash}`);
  return digestOf({ ...key, stage: stage.name, version: stage.version, tools: await toolVersions([...stage.tools]) });
}

/** Run a stage through the store: reuse its committed output, or make and commit it. */
export async function runStage<In, Out>(ctx: StageContext, stage: Stage<In, Out>, input: In): Promise<Out & { digest: string }> {
  const digest = await stageDigest(stage, input);
  return ctx.progress.stage(stage.name, stage.subject(input), digest, async () => {
    const hit = ctx.store.get(stage.name, digest);
    if (hit && (!stage.usable || (await stage.usable(hit.meta)))) return { value: { ...stage.output(hit.path, hit.meta, input), digest }, cache: "hit" };
    const entry = await ctx.store.put(stage.name, digest, (dir) => stage.run(dir, input, ctx));
    return { value: { ...stage.output(entry.path, entry.meta, input), digest }, cache: "miss" };
  });
}
